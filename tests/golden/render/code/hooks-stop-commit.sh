#!/bin/bash
# Stop hook: when the agent stops, commit what it left uncommitted under the run's commit message
# and push the work branch if it holds commits the base branch lacks, so that a pod lost after this
# point loses nothing. It never blocks the agent: problems are reported, exit is 0. (container.sh
# saves and pushes again at the end, also after a failure or SIGTERM.)
set -uo pipefail

REPOSITORY_URL=git@github.com:demo-org/trader.git
BASE_BRANCH=main
WORK_BRANCH=feature/task-5-trader
COMMIT_MESSAGE='feat(task-5): trader work from run code-5-trader-8d1c0f4a2b'

# Claude passes the event as JSON on stdin; this hook does not need it.
cat >/dev/null || true
cd "${CLAUDE_PROJECT_DIR:-$PWD}" || exit 0
TOP=$(git rev-parse --show-toplevel 2>/dev/null) || exit 0
cd "$TOP" || exit 0
git add --all || exit 0
if ! git diff --cached --quiet; then
  git commit --quiet -m "$COMMIT_MESSAGE" || echo "stop-commit: commit failed" >&2
fi
AHEAD=$(git rev-list --count "refs/remotes/origin/$BASE_BRANCH..HEAD" 2>/dev/null) || exit 0
if [[ $AHEAD =~ ^[0-9]+$ ]] && [ "$AHEAD" -gt 0 ]; then
  git push --quiet -- "$REPOSITORY_URL" "HEAD:refs/heads/$WORK_BRANCH" \
    || echo "stop-commit: push failed; the run will push at the end" >&2
fi
exit 0

#!/bin/bash
# Stop hook: whenever the agent stops, commit and push what it has so far, so a run that is stopped
# or hits its deadline loses nothing. It never blocks the agent: problems are reported, exit is 0.
set -uo pipefail

WORK_BRANCH=feature/task-5-trader
COMMIT_MESSAGE='wip: progress saved when the agent stopped (run code-5-trader-8d1c0f4a2b)'

# Claude passes the event as JSON on stdin; this hook does not need it.
cat >/dev/null || true
cd "${CLAUDE_PROJECT_DIR:-$PWD}" || exit 0
TOP=$(git rev-parse --show-toplevel 2>/dev/null) || exit 0
cd "$TOP" || exit 0
git add --all || exit 0
if ! git diff --cached --quiet; then
  git commit --quiet -m "$COMMIT_MESSAGE" || echo "stop-commit: commit failed" >&2
fi
git push --quiet origin "HEAD:refs/heads/$WORK_BRANCH" || echo "stop-commit: push failed; the run will push at the end" >&2
exit 0

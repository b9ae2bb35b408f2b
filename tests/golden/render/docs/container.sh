#!/bin/bash
# DocsRun agent: clone the repository at the source branch, let Claude write documentation in the
# working directory, push branch docs/<run>, and write {"branch", "commit", "pullRequestUrl"} to the
# termination message. Values from the run enter only through the quoted assignments below.
set -euo pipefail

RUN_NAME=docs-3f2a9c1e7b
REPOSITORY_URL=git@github.com:demo-org/trader.git
SOURCE_BRANCH=main
WORK_BRANCH=docs/docs-3f2a9c1e7b
WORK_BRANCH_JSON='"docs/docs-3f2a9c1e7b"'
WORKING_DIRECTORY=docs
MODEL=claude-opus-4-20250514
GITHUB_USER=Alice
GIT_USER_EMAIL=Alice@users.noreply.github.com
COMMIT_MESSAGE='docs: documentation written by run docs-3f2a9c1e7b'

# The Job's mount points (bot/core/jobs.py), overridable to run this script outside a pod.
DEFAULT_CONFIG_DIR=/config
DEFAULT_SSH_KEY_DIR=/var/run/secrets/github-ssh
DEFAULT_WORKSPACE=/workspace
DEFAULT_MANAGED_SETTINGS=/etc/claude-code/managed-settings.json
DEFAULT_TERMINATION_LOG=/dev/termination-log
DEFAULT_HOME=/home/agent
CONFIG_DIR="${CONFIG_DIR:-$DEFAULT_CONFIG_DIR}"
SSH_KEY_DIR="${SSH_KEY_DIR:-$DEFAULT_SSH_KEY_DIR}"
WORKSPACE="${WORKSPACE:-$DEFAULT_WORKSPACE}"
MANAGED_SETTINGS="${MANAGED_SETTINGS:-$DEFAULT_MANAGED_SETTINGS}"
TERMINATION_LOG="${TERMINATION_LOG:-$DEFAULT_TERMINATION_LOG}"
export HOME="${HOME:-$DEFAULT_HOME}"
export CONFIG_DIR

STEP="starting"
RESULT_WRITTEN=false

step() {
  STEP=$1
  printf '\n==> %s\n' "$1"
}

fail() {
  printf 'error: %s\n' "$1" >&2
  exit 1
}

# On failure the termination message names the step (static text, so always valid JSON).
report_failure() {
  local status=$?
  if [ "$status" -ne 0 ] && [ "$RESULT_WRITTEN" = false ]; then
    printf 'container.sh: failed while %s (exit %d)\n' "$STEP" "$status" >&2
    printf '{"error": "failed while %s (exit %d)"}\n' "$STEP" "$status" >"$TERMINATION_LOG" || true
  fi
}
trap report_failure EXIT

printf 'DocsRun %s for %s\n' "$RUN_NAME" "$GITHUB_USER"

step "setting up SSH"
SSH_DIR="$HOME/.ssh"
[ -r "$SSH_KEY_DIR/id_ed25519" ] || fail "no SSH private key at $SSH_KEY_DIR/id_ed25519 (is the user's github-ssh secret mounted?)"
mkdir -p "$SSH_DIR"
chmod 700 "$SSH_DIR"
# The mounted key is read-only and not owned by us; ssh insists on a private 0600 copy.
install -m 600 "$SSH_KEY_DIR/id_ed25519" "$SSH_DIR/id_ed25519"
if [ -r "$SSH_KEY_DIR/id_ed25519.pub" ]; then
  install -m 644 "$SSH_KEY_DIR/id_ed25519.pub" "$SSH_DIR/id_ed25519.pub"
fi
# GitHub's published host keys, pinned: ssh-keyscan would trust whoever answers.
cat >"$SSH_DIR/known_hosts" <<'KNOWN_HOSTS'
github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=
github.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=
KNOWN_HOSTS
chmod 644 "$SSH_DIR/known_hosts"
printf -v GIT_SSH_COMMAND 'ssh -i %q -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%q' \
  "$SSH_DIR/id_ed25519" "$SSH_DIR/known_hosts"
export GIT_SSH_COMMAND

step "configuring git"
git config --global user.name "$GITHUB_USER"
git config --global user.email "$GIT_USER_EMAIL"
# SSH only, with the user's own key: an https://github.com/ URL goes over SSH as well.
git config --global url.git@github.com:.insteadOf https://github.com/

step "cloning the repository"
REPO_DIR="$WORKSPACE/repository"
rm -rf "$REPO_DIR"
git clone --branch="$SOURCE_BRANCH" --single-branch -- "$REPOSITORY_URL" "$REPO_DIR"
cd "$REPO_DIR"
git switch --create "$WORK_BRANCH"
[ -d "$WORKING_DIRECTORY" ] || fail "the working directory $WORKING_DIRECTORY does not exist on $SOURCE_BRANCH"
cd "$WORKING_DIRECTORY"

step "preparing the agent"
[ -f "$MANAGED_SETTINGS" ] || fail "no managed settings at $MANAGED_SETTINGS: the agent would run without its permission rules"
# User-level memory, so the project's own CLAUDE.md (if any) stays as it is and ours is never committed.
mkdir -p "$HOME/.claude"
cp "$CONFIG_DIR/CLAUDE.md" "$HOME/.claude/CLAUDE.md"
export ORCHESTRATOR_RESULT_DIR="$HOME/.orchestrator"
mkdir -p "$ORCHESTRATOR_RESULT_DIR"
rm -f "$ORCHESTRATOR_RESULT_DIR/pull-request-url"

step "running the agent"
printf 'model %s, prompt %s\n' "$MODEL" "$CONFIG_DIR/prompt.md"
claude -p --output-format stream-json --verbose --model "$MODEL" <"$CONFIG_DIR/prompt.md"

step "committing and pushing"
cd "$REPO_DIR"
git add --all
if ! git diff --cached --quiet; then
  git commit --quiet -m "$COMMIT_MESSAGE"
fi
COMMIT=$(git rev-parse HEAD)
AHEAD=$(git rev-list --count "origin/$SOURCE_BRANCH..HEAD")
[[ $AHEAD =~ ^[0-9]+$ ]] || fail "could not count the new commits"
if [ "$AHEAD" -gt 0 ]; then
  git push --set-upstream origin "HEAD:refs/heads/$WORK_BRANCH"
  BRANCH_JSON=$WORK_BRANCH_JSON
else
  echo "the agent changed nothing: no branch pushed"
  BRANCH_JSON=null
fi

step "reporting the result"
[[ $COMMIT =~ ^[0-9a-f]{40,64}$ ]] || fail "git returned an unexpected commit id"
PULL_REQUEST_JSON=null
if [ -s "$ORCHESTRATOR_RESULT_DIR/pull-request-url" ]; then
  PULL_REQUEST_URL=$(head -n 1 "$ORCHESTRATOR_RESULT_DIR/pull-request-url")
  # Only a plain https URL is copied into the JSON, so it needs no escaping.
  if [[ $PULL_REQUEST_URL =~ ^https://[A-Za-z0-9./_-]+$ ]]; then
    PULL_REQUEST_JSON="\"$PULL_REQUEST_URL\""
  else
    echo "ignoring a pull request URL that is not a plain https URL"
  fi
fi
RESULT=$(printf '{"branch": %s, "commit": "%s", "pullRequestUrl": %s}' "$BRANCH_JSON" "$COMMIT" "$PULL_REQUEST_JSON")
printf '%s\n' "$RESULT" >"$TERMINATION_LOG"
RESULT_WRITTEN=true
printf 'result: %s\n' "$RESULT"

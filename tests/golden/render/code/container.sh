#!/bin/bash
# CodeRun agent: fetch the task definition from the platform repository, clone or update the target
# repository in the service's persistent workspace, let Claude work on branch
# feature/task-<id>-<service>, push it, and write {"branch", "commit", "pullRequestUrl"} to the
# termination message. Values from the run enter only through the quoted assignments below.
set -euo pipefail

RUN_NAME=code-5-trader-8d1c0f4a2b
TASK_ID=5
SERVICE=trader
REPOSITORY_URL=git@github.com:demo-org/trader.git
PLATFORM_REPOSITORY_URL=git@github.com:demo-org/platform.git
BASE_BRANCH=main
FEATURE_BRANCH=feature/task-5-trader
FEATURE_BRANCH_JSON='"feature/task-5-trader"'
WORKING_DIRECTORY=services/trader
MODEL=claude-sonnet-4-20250514
GITHUB_USER=Alice
GIT_USER_EMAIL=Alice@users.noreply.github.com
COMMIT_MESSAGE='feat(task-5): trader work from run code-5-trader-8d1c0f4a2b'
PROMPT_MODE=append
HAS_PROMPT_MODIFICATION=true
CONTINUE_SESSION=true
OVERWRITE_MEMORY=true

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
# Hooks find their scripts through CONFIG_DIR (see settings.json).
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

printf 'CodeRun %s: task %s of service %s for %s\n' "$RUN_NAME" "$TASK_ID" "$SERVICE" "$GITHUB_USER"

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

step "fetching the task definition"
PLATFORM_DIR="$WORKSPACE/platform"
TASK_DIR="$WORKSPACE/task"
rm -rf "$PLATFORM_DIR" "$TASK_DIR"
git clone --depth=1 -- "$PLATFORM_REPOSITORY_URL" "$PLATFORM_DIR"
TASK_SOURCE="$PLATFORM_DIR/.taskmaster/docs/task-$TASK_ID"
[ -d "$TASK_SOURCE" ] || fail "task $TASK_ID is not defined: $PLATFORM_REPOSITORY_URL has no .taskmaster/docs/task-$TASK_ID/"
[ -f "$TASK_SOURCE/task.md" ] || fail "task $TASK_ID has no task.md in .taskmaster/docs/task-$TASK_ID/"
mkdir -p "$TASK_DIR"
for file in task.md acceptance-criteria.md prompt.md architecture.md; do
  if [ -f "$TASK_SOURCE/$file" ]; then
    cp "$TASK_SOURCE/$file" "$TASK_DIR/$file"
  else
    printf 'note: task %s has no %s; continuing without it\n' "$TASK_ID" "$file"
  fi
done
# promptMode replace: the run's promptModification (in the rendered prompt) replaces the task's prompt.
if [ "$PROMPT_MODE" = replace ] && [ "$HAS_PROMPT_MODIFICATION" = true ]; then
  rm -f "$TASK_DIR/prompt.md"
fi
cp "$CONFIG_DIR/coding-guidelines.md" "$CONFIG_DIR/github-guidelines.md" "$TASK_DIR/"

step "preparing the service workspace"
REPO_DIR="$WORKSPACE/repository"
if [ -d "$REPO_DIR/.git" ]; then
  # The workspace outlives runs: reuse the clone, keeping anything an earlier run left behind.
  cd "$REPO_DIR"
  git remote set-url origin "$REPOSITORY_URL"
  git fetch --prune origin
  if [ -n "$(git status --porcelain)" ]; then
    echo "committing work an earlier run left uncommitted (on its own branch)"
    git add --all
    git commit --quiet -m "wip: work left uncommitted by an earlier run"
  fi
else
  git clone -- "$REPOSITORY_URL" "$REPO_DIR"
  cd "$REPO_DIR"
fi
if git show-ref --verify --quiet "refs/heads/$FEATURE_BRANCH"; then
  git switch "$FEATURE_BRANCH"
  if git show-ref --verify --quiet "refs/remotes/origin/$FEATURE_BRANCH"; then
    git merge --ff-only "origin/$FEATURE_BRANCH" || echo "note: local $FEATURE_BRANCH has diverged from origin; keeping the local work"
  fi
elif git show-ref --verify --quiet "refs/remotes/origin/$FEATURE_BRANCH"; then
  git switch --create "$FEATURE_BRANCH" --track "origin/$FEATURE_BRANCH"
else
  git switch --create "$FEATURE_BRANCH" --no-track "origin/$BASE_BRANCH"
fi
# A new service's directory may not exist yet; the agent creates what goes in it.
mkdir -p "$WORKING_DIRECTORY"
cd "$WORKING_DIRECTORY"

step "preparing the agent"
[ -f "$MANAGED_SETTINGS" ] || fail "no managed settings at $MANAGED_SETTINGS: the agent would run without its permission rules"
for file in mcp.json client-config.json; do
  [ -f "$CONFIG_DIR/$file" ] || fail "no $file in $CONFIG_DIR"
done
for hook in "$CONFIG_DIR"/hooks-*; do
  if [ -e "$hook" ]; then
    printf 'hook %s\n' "${hook##*/}"
  fi
done
# Project memory persists with the workspace: keep what earlier runs learned unless told otherwise.
if [ -f CLAUDE.md ] && [ "$OVERWRITE_MEMORY" != true ]; then
  echo "keeping the existing CLAUDE.md (overwriteMemory is false)"
else
  cp "$CONFIG_DIR/CLAUDE.md" CLAUDE.md
fi
# Our memory file is not the project's: unless the repository tracks one, keep it out of commits.
if ! git ls-files --error-unmatch CLAUDE.md >/dev/null 2>&1; then
  EXCLUDE_FILE="$REPO_DIR/.git/info/exclude"
  EXCLUDE_LINE="/CLAUDE.md"
  if [ "$WORKING_DIRECTORY" != . ]; then
    EXCLUDE_LINE="/$WORKING_DIRECTORY/CLAUDE.md"
  fi
  mkdir -p "${EXCLUDE_FILE%/*}"
  touch "$EXCLUDE_FILE"
  grep -qxF -- "$EXCLUDE_LINE" "$EXCLUDE_FILE" || printf '%s\n' "$EXCLUDE_LINE" >>"$EXCLUDE_FILE"
fi
# Claude's sessions live in the workspace too, so --continue finds the previous one.
export CLAUDE_CONFIG_DIR="$WORKSPACE/.claude"
mkdir -p "$CLAUDE_CONFIG_DIR"
export ORCHESTRATOR_RESULT_DIR="$HOME/.orchestrator"
mkdir -p "$ORCHESTRATOR_RESULT_DIR"
rm -f "$ORCHESTRATOR_RESULT_DIR/pull-request-url"

step "running the agent"
CLAUDE_ARGS=(-p --output-format stream-json --verbose --model "$MODEL"
  --mcp-config "$CONFIG_DIR/mcp.json" --add-dir "$TASK_DIR")
if [ "$CONTINUE_SESSION" = true ]; then
  if [ -d "$CLAUDE_CONFIG_DIR/projects" ]; then
    CLAUDE_ARGS+=(--continue)
  else
    echo "note: continueSession is set but this workspace has no earlier session; starting a new one"
  fi
fi
printf 'model %s, prompt %s\n' "$MODEL" "$CONFIG_DIR/prompt.md"
claude "${CLAUDE_ARGS[@]}" <"$CONFIG_DIR/prompt.md"

step "committing and pushing"
cd "$REPO_DIR"
git add --all
if ! git diff --cached --quiet; then
  git commit --quiet -m "$COMMIT_MESSAGE"
fi
COMMIT=$(git rev-parse HEAD)
AHEAD=$(git rev-list --count "origin/$BASE_BRANCH..HEAD")
[[ $AHEAD =~ ^[0-9]+$ ]] || fail "could not count the new commits"
if [ "$AHEAD" -gt 0 ]; then
  git push --set-upstream origin "HEAD:refs/heads/$FEATURE_BRANCH"
  BRANCH_JSON=$FEATURE_BRANCH_JSON
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

#!/bin/bash
# DocsRun agent: clone the repository at the source branch, let Claude write documentation in the
# working directory, push branch docs/<run> (a run continuing a pull request: its own branch) if it
# changed anything, and write {"branch", "commit", "changed", "sessionId", "pullRequestUrl", "error",
# "denials"} to the termination message — also when the agent fails or the Job is stopped. Values
# from the run enter only through the quoted assignments below.
set -euo pipefail

RUN_NAME=docs-3f2a9c1e7b
REPOSITORY_URL=git@github.com:demo-org/trader.git
BASE_BRANCH=main
WORK_BRANCH=docs/docs-3f2a9c1e7b
WORKING_DIRECTORY=docs
MODEL=claude-opus-4-20250514
GITHUB_USER=Alice
GIT_USER_EMAIL=Alice@users.noreply.github.com
COMMIT_MESSAGE='docs: documentation written by run docs-3f2a9c1e7b'

# The Job's mount points (bot/core/jobs.py), overridable to run this script outside a pod.
DEFAULT_CONFIG_DIR=/config
DEFAULT_WORKSPACE=/workspace
DEFAULT_MANAGED_SETTINGS=/etc/claude-code/managed-settings.json
DEFAULT_TERMINATION_LOG=/dev/termination-log
DEFAULT_HOME=/home/agent
DEFAULT_SSH_AUTH_SOCK=/run/ssh-agent/agent.sock
CONFIG_DIR="${CONFIG_DIR:-$DEFAULT_CONFIG_DIR}"
WORKSPACE="${WORKSPACE:-$DEFAULT_WORKSPACE}"
MANAGED_SETTINGS="${MANAGED_SETTINGS:-$DEFAULT_MANAGED_SETTINGS}"
TERMINATION_LOG="${TERMINATION_LOG:-$DEFAULT_TERMINATION_LOG}"
export HOME="${HOME:-$DEFAULT_HOME}"
# The user's key stays in the ssh-agent sidecar; this container only gets its socket.
export SSH_AUTH_SOCK="${SSH_AUTH_SOCK:-$DEFAULT_SSH_AUTH_SOCK}"
# Hooks find their scripts through CONFIG_DIR (see settings.json).
export CONFIG_DIR
# Git never runs a command that a workspace or a repository configured: no hooks, no fsmonitor.
# Environment config outranks every config file, and the agent's own git calls inherit it.
export GIT_CONFIG_COUNT=2
export GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/dev/null
export GIT_CONFIG_KEY_1=core.fsmonitor GIT_CONFIG_VALUE_1=false
export GIT_TERMINAL_PROMPT=0

STEP="starting"
RESULT_WRITTEN=false
STOPPING=false
AGENT_PID=""
AGENT_STATUS=""
STATE_DIR="$HOME/.orchestrator"
TRANSCRIPT="$STATE_DIR/transcript.jsonl"
HIDDEN_DIR="$STATE_DIR/hidden"
export ORCHESTRATOR_RESULT_DIR="$STATE_DIR/result"

step() {
  STEP=$1
  printf '\n==> %s\n' "$1"
}

fail() {
  printf 'error: %s\n' "$1" >&2
  exit 1
}

# A result JSON built by jq: every value is encoded, whatever the agent or git printed.
write_result() {
  local result
  result=$(jq -cn "$@")
  printf '%s\n' "$result" >"$TERMINATION_LOG"
  RESULT_WRITTEN=true
  printf 'result: %s\n' "$result"
}

# On a failure before the agent's work is saved, the termination message names the step.
report_failure() {
  local status=$?
  if [ "$status" -ne 0 ] && [ "$RESULT_WRITTEN" = false ]; then
    local why="failed while $STEP (exit $status)"
    if [ "$STOPPING" = true ]; then
      why="stopped (SIGTERM: deadline or cancel) while $STEP"
    fi
    printf 'container.sh: %s\n' "$why" >&2
    jq -cn --arg error "$why" '{error: $error}' >"$TERMINATION_LOG" 2>/dev/null \
      || printf '{"error": "failed while %s"}\n' "$STEP" >"$TERMINATION_LOG" || true
  fi
}
trap report_failure EXIT

# SIGTERM (the Job's deadline, a cancel, a drained node): stop the agent, then save and report.
on_stop() {
  STOPPING=true
  if [ -n "$AGENT_PID" ]; then
    kill -TERM "$AGENT_PID" 2>/dev/null || true
  fi
}
trap on_stop TERM INT

setup_ssh() {
  step "setting up SSH"
  [ -S "$SSH_AUTH_SOCK" ] || fail "no ssh-agent socket at $SSH_AUTH_SOCK (the ssh-agent sidecar did not start)"
  ssh-add -l >/dev/null || fail "the ssh-agent holds no key (is the user's github-ssh secret complete?)"
  local ssh_dir="$HOME/.ssh"
  mkdir -p "$ssh_dir"
  chmod 700 "$ssh_dir"
  # GitHub's published host keys, pinned: ssh-keyscan would trust whoever answers.
  cat >"$ssh_dir/known_hosts" <<'KNOWN_HOSTS'
github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl
github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=
github.com ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCj7ndNxQowgcQnjshcLrqPEiiphnt+VTTvDP6mHBL9j1aNUkY4Ue1gvwnGLVlOhGeYrnZaMgRK6+PKCUXaDbC7qtbW8gIkhL7aGCsOr/C56SJMy/BCZfxd1nWzAOxSDPgVsmerOBYfNqltV9/hWCqBywINIR+5dIg6JTJ72pcEpEjcYgXkE2YEFXV1JHnsKgbLWNlhScqb2UmyRkQyytRLtL+38TGxkxCflmO+5Z8CSSNY7GidjMIZ7Q4zMjA2n1nGrlTDkzwDCsw+wqFPGQA179cnfGWOWRVruj16z6XyvxvjJwbz0wQZ75XK5tKSb7FNyeIEs4TT4jk+S4dhPeAUC5y+bDYirYgM4GC7uEnztnZyaVWQ7B381AK4Qdrwt51ZqExKbQpTUNn+EjqoTwvqNj4kqx5QUCI0ThS/YkOxJCXmPUWZbhjpCg56i+2aB6CmK2JGhn57K5mj0MNdBXA4/WnwH6XoPWJzK5Nyu2zB3nAZp+S5hpQs+p1vN1/wsjk=
KNOWN_HOSTS
  chmod 644 "$ssh_dir/known_hosts"
  printf -v GIT_SSH_COMMAND 'ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%q' \
    "$ssh_dir/known_hosts"
  export GIT_SSH_COMMAND
}

configure_git() {
  step "configuring git"
  git config --global user.name "$GITHUB_USER"
  git config --global user.email "$GIT_USER_EMAIL"
  # SSH only, with the user's own key: an https://github.com/ URL goes over SSH as well.
  git config --global url.git@github.com:.insteadOf https://github.com/
  mkdir -p "$STATE_DIR" "$ORCHESTRATOR_RESULT_DIR" "$HIDDEN_DIR"
  rm -f "$ORCHESTRATOR_RESULT_DIR/pull-request-url"
}

# The working directory, resolved: it must stay inside the clone and outside its .git.
enter_working_directory() {
  case "/$WORKING_DIRECTORY/" in
    */.git/*) fail "the working directory $WORKING_DIRECTORY is inside .git" ;;
  esac
  local target repo
  repo=$(realpath -- "$REPO_DIR")
  target=$(realpath -m -- "$REPO_DIR/$WORKING_DIRECTORY")
  case "$target/" in
    "$repo"/*) ;;
    *) fail "the working directory $WORKING_DIRECTORY leads outside the repository (a symlink?)" ;;
  esac
  case "$target/" in
    "$repo"/.git/*) fail "the working directory $WORKING_DIRECTORY is inside .git" ;;
  esac
  mkdir -p -- "$target"
  cd -- "$target"
}

# Agent configuration that the checkout brings (hooks, MCP servers, permissions) is not honoured:
# it may come from someone other than the person whose key the run uses. Tracked files are set
# aside with skip-worktree, so no commit records them as deleted, and are put back before the final
# commit; untracked ones are simply set aside.
AGENT_CONFIG_FILES=(.claude/settings.json .claude/settings.local.json .mcp.json)

hide_project_agent_config() {
  local dir=$PWD relative file hidden
  while :; do
    for file in "${AGENT_CONFIG_FILES[@]}"; do
      if [ -e "$dir/$file" ] || [ -L "$dir/$file" ]; then
        relative=${dir#"$REPO_DIR"}
        hidden="$HIDDEN_DIR${relative}/$file"
        mkdir -p "${hidden%/*}"
        git -C "$REPO_DIR" update-index --skip-worktree -- "${relative#/}${relative:+/}$file" 2>/dev/null || true
        mv -f -- "$dir/$file" "$hidden"
        printf 'not honouring %s from the repository (agent configuration comes from the orchestrator only)\n' \
          "${relative#/}${relative:+/}$file"
      fi
    done
    if [ "$dir" = "$REPO_DIR" ] || [ -z "$dir" ]; then
      break
    fi
    dir=${dir%/*}
  done
}

restore_project_agent_config() {
  local hidden relative
  [ -d "$HIDDEN_DIR" ] || return 0
  while IFS= read -r -d '' hidden; do
    relative=${hidden#"$HIDDEN_DIR"/}
    mkdir -p "$REPO_DIR/${relative%/*}"
    mv -f -- "$hidden" "$REPO_DIR/$relative"
    git -C "$REPO_DIR" update-index --no-skip-worktree -- "$relative" 2>/dev/null || true
  done < <(find "$HIDDEN_DIR" \( -type f -o -type l \) -print0)
}

# Runs claude in the background, so that SIGTERM is handled at once (bash runs traps only between
# commands), and shows its stream-json output on stdout as it comes.
run_agent() {
  step "running the agent"
  printf 'model %s, prompt %s\n' "$MODEL" "$CONFIG_DIR/prompt.md"
  : >"$TRANSCRIPT"
  claude "$@" <"$CONFIG_DIR/prompt.md" >"$TRANSCRIPT" &
  AGENT_PID=$!
  tail -n +1 -f --pid="$AGENT_PID" "$TRANSCRIPT" &
  local tail_pid=$!
  set +e
  while :; do
    wait "$AGENT_PID"
    AGENT_STATUS=$?
    kill -0 "$AGENT_PID" 2>/dev/null || break
  done
  wait "$tail_pid"
  set -e
  AGENT_PID=""
  printf '\nthe agent exited with status %s\n' "$AGENT_STATUS"
}

# What the transcript says about the run: session id, how it ended, refused tools.
read_transcript() {
  SESSION_ID=$(jq -Rr 'fromjson? | select(.type == "system" and .subtype == "init") | .session_id // empty' \
    "$TRANSCRIPT" | head -n 1)
  RESULT_LINE=$(jq -Rc 'fromjson? | select(.type == "result")' "$TRANSCRIPT" | tail -n 1)
  # A refused tool answers with an error tool_result; its tool_use says which tool it was.
  DENIALS=$(jq -Rn '
    [inputs | fromjson? | objects | .message.content? | arrays | .[] | objects] as $blocks
    | ([$blocks[] | select(.type == "tool_use") | {key: .id, value: .name}] | from_entries) as $names
    | [$blocks[]
       | select(.type == "tool_result" and .is_error == true)
       | select((.content | tostring) | test("^Claude requested permissions to |^Permission to .* has been denied"))
       | $names[.tool_use_id // ""] // "unknown"]
    | group_by(.) | map({key: .[0], value: length}) | from_entries' "$TRANSCRIPT")
  AGENT_ERROR=""
  if [ "$STOPPING" = true ]; then
    AGENT_ERROR="stopped (SIGTERM: deadline or cancel) before the agent finished"
  elif [ -z "$RESULT_LINE" ]; then
    AGENT_ERROR="the agent ended without a result (exit $AGENT_STATUS)"
  else
    AGENT_ERROR=$(jq -r '
      if .is_error == true then "the agent failed: " + ((.result // "no reason given") | tostring | .[0:300])
      elif .subtype == "error_max_turns" then "the agent used up its turns (error_max_turns)"
      elif .subtype != "success" then "the agent stopped with " + (.subtype | tostring)
      else empty end' <<<"$RESULT_LINE")
    if [ -z "$AGENT_ERROR" ] && [ "$AGENT_STATUS" -ne 0 ]; then
      AGENT_ERROR="the agent exited with status $AGENT_STATUS"
    fi
  fi
}

# Commit what the agent left uncommitted, and push the work branch if this run changed anything.
# Pushes go to the run's repository URL, whatever a remote in .git/config says.
save_work() {
  step "committing and pushing"
  cd "$REPO_DIR"
  git add --all
  if ! git diff --cached --quiet; then
    git commit --quiet -m "$COMMIT_MESSAGE"
  fi
  COMMIT=$(git rev-parse HEAD)
  [[ $COMMIT =~ ^[0-9a-f]{40,64}$ ]] || fail "git returned an unexpected commit id"
  CHANGED=false
  if [ "$COMMIT" != "$START_COMMIT" ]; then
    CHANGED=true
  fi
  AHEAD=$(git rev-list --count "$BASE_COMMIT..HEAD")
  [[ $AHEAD =~ ^[0-9]+$ ]] || fail "could not count the new commits"
  BRANCH=""
  if [ "$AHEAD" -gt 0 ]; then
    if [ "$CHANGED" = true ]; then
      git push -- "$REPOSITORY_URL" "HEAD:refs/heads/$WORK_BRANCH"
    fi
    BRANCH=$WORK_BRANCH
  else
    echo "the agent changed nothing: no branch pushed"
  fi
}

report_result() {
  step "reporting the result"
  local pull_request_url=""
  if [ -s "$ORCHESTRATOR_RESULT_DIR/pull-request-url" ]; then
    pull_request_url=$(head -n 1 "$ORCHESTRATOR_RESULT_DIR/pull-request-url")
    if ! [[ $pull_request_url =~ ^https://[A-Za-z0-9./_-]+$ ]]; then
      echo "ignoring a pull request URL that is not a plain https URL"
      pull_request_url=""
    fi
  fi
  write_result \
    --arg branch "$BRANCH" --arg commit "$COMMIT" --arg sessionId "${SESSION_ID:-}" \
    --arg pullRequestUrl "$pull_request_url" --arg error "$AGENT_ERROR" \
    --argjson changed "$CHANGED" --argjson denials "${DENIALS:-{\}}" \
    '{branch: $branch, commit: $commit, changed: $changed, sessionId: $sessionId,
      pullRequestUrl: $pullRequestUrl, error: $error, denials: $denials}
     | with_entries(select(.value != "" and .value != {}))'
}

# The script's status is the agent's: non-zero when it failed, 143 after SIGTERM.
finish() {
  if [ "$STOPPING" = true ]; then
    exit 143
  fi
  if [ -n "$AGENT_ERROR" ]; then
    if [ "${AGENT_STATUS:-0}" -ne 0 ]; then
      exit "$AGENT_STATUS"
    fi
    exit 1
  fi
  exit 0
}


printf 'DocsRun %s for %s\n' "$RUN_NAME" "$GITHUB_USER"
setup_ssh
configure_git

step "cloning the repository"
REPO_DIR="$WORKSPACE/repository"
rm -rf "$REPO_DIR"
git clone --quiet --branch="$BASE_BRANCH" --single-branch -- "$REPOSITORY_URL" "$REPO_DIR"
cd "$REPO_DIR"
REPO_DIR=$(pwd -P)
BASE_COMMIT=$(git rev-parse HEAD)
if [ "$WORK_BRANCH" = "$BASE_BRANCH" ]; then
  echo "continuing $WORK_BRANCH, the branch of the pull request an earlier run opened"
else
  git switch --quiet --create "$WORK_BRANCH"
fi
START_COMMIT=$BASE_COMMIT
[ -d "$WORKING_DIRECTORY" ] || fail "the working directory $WORKING_DIRECTORY does not exist on $BASE_BRANCH"
enter_working_directory

step "preparing the agent"
[ -f "$MANAGED_SETTINGS" ] || fail "no managed settings at $MANAGED_SETTINGS: the agent would run without its permission rules"
hide_project_agent_config
# User-level memory, so the project's own CLAUDE.md (if any) stays as it is and ours is never committed.
export CLAUDE_CONFIG_DIR="$HOME/.claude"
mkdir -p "$CLAUDE_CONFIG_DIR"
cp "$CONFIG_DIR/CLAUDE.md" "$CLAUDE_CONFIG_DIR/CLAUDE.md"

run_agent -p --output-format stream-json --verbose --model "$MODEL"
read_transcript
restore_project_agent_config
save_work
report_result
finish

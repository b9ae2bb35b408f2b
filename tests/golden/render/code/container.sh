#!/bin/bash
# CodeRun agent: fetch the task definition from the platform repository, bring the target
# repository in the workspace to the fetched state of branch feature/task-<id>-<service>, let Claude
# work there, push what it did, and write {"branch", "commit", "changed", "sessionId",
# "pullRequestUrl", "error", "denials"} to the termination message — also when the agent fails or
# the Job is stopped. Values from the run enter only through the quoted assignments below.
set -euo pipefail

RUN_NAME=code-5-trader-8d1c0f4a2b
TASK_ID=5
SERVICE=trader
REPOSITORY_URL=git@github.com:demo-org/trader.git
PLATFORM_REPOSITORY_URL=git@github.com:demo-org/platform.git
BASE_BRANCH=main
WORK_BRANCH=feature/task-5-trader
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


printf 'CodeRun %s: task %s of service %s for %s\n' "$RUN_NAME" "$TASK_ID" "$SERVICE" "$GITHUB_USER"
setup_ssh
configure_git

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
rm -rf "$PLATFORM_DIR"

step "preparing the workspace"
# The workspace belongs to one repository (and, by default, one user): what it keeps between runs is
# the clone, the agent's sessions and its memory. It never keeps state the repository does not have.
REPO_DIR="$WORKSPACE/repository"
SESSIONS_DIR="$WORKSPACE/sessions"
MEMORY_DIR="$WORKSPACE/memory"
if [ -L "$REPO_DIR" ] || [ -L "$REPO_DIR/.git" ]; then
  rm -rf "$REPO_DIR"
fi
if [ -d "$REPO_DIR/.git" ]; then
  CLONED_FROM=$(git -C "$REPO_DIR" config --file "$REPO_DIR/.git/config" --get remote.origin.url || true)
  if [ "$CLONED_FROM" != "$REPOSITORY_URL" ]; then
    printf 'the workspace holds a clone of %s, not of %s: starting from a fresh clone\n' \
      "${CLONED_FROM:-an unknown repository}" "$REPOSITORY_URL"
    rm -rf "$REPO_DIR" "$SESSIONS_DIR" "$MEMORY_DIR"
  fi
fi
if [ -d "$REPO_DIR/.git" ]; then
  # Git's own files are rewritten: an earlier run may have planted config, hooks or attributes.
  cat >"$REPO_DIR/.git/config" <<'GIT_CONFIG'
[core]
	repositoryformatversion = 0
	filemode = true
	bare = false
	logallrefupdates = true
GIT_CONFIG
  git -C "$REPO_DIR" remote add origin "$REPOSITORY_URL"
  rm -rf "$REPO_DIR/.git/hooks" "$REPO_DIR/.git/info"
  mkdir -p "$REPO_DIR/.git/hooks" "$REPO_DIR/.git/info"
  git -C "$REPO_DIR" fetch --prune --quiet origin
else
  rm -rf "$REPO_DIR"
  git clone --quiet -- "$REPOSITORY_URL" "$REPO_DIR"
fi
cd "$REPO_DIR"
REPO_DIR=$(pwd -P)
git rev-parse --verify --quiet "refs/remotes/origin/$BASE_BRANCH" >/dev/null \
  || fail "the repository has no branch $BASE_BRANCH"
BASE_COMMIT=$(git rev-parse "refs/remotes/origin/$BASE_BRANCH")
if git rev-parse --verify --quiet "refs/remotes/origin/$WORK_BRANCH" >/dev/null; then
  echo "continuing $WORK_BRANCH as pushed by earlier runs"
  git checkout --quiet --force -B "$WORK_BRANCH" "refs/remotes/origin/$WORK_BRANCH"
else
  git checkout --quiet --force --no-track -B "$WORK_BRANCH" "$BASE_COMMIT"
fi
git clean -ffdxq
START_COMMIT=$(git rev-parse HEAD)
enter_working_directory

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
hide_project_agent_config
# Claude's settings are fresh each run; only its sessions persist, so --continue finds the last one.
export CLAUDE_CONFIG_DIR="$HOME/.claude"
mkdir -p "$CLAUDE_CONFIG_DIR" "$SESSIONS_DIR/projects" "$SESSIONS_DIR/todos"
ln -sfn "$SESSIONS_DIR/projects" "$CLAUDE_CONFIG_DIR/projects"
ln -sfn "$SESSIONS_DIR/todos" "$CLAUDE_CONFIG_DIR/todos"
# Project memory persists with the workspace: keep what earlier runs learned unless told otherwise.
# It lives beside the clone (cleaned every run) and is never committed.
MEMORY_FILE="$MEMORY_DIR/$WORKING_DIRECTORY/CLAUDE.md"
if git ls-files --error-unmatch CLAUDE.md >/dev/null 2>&1; then
  echo "the repository has its own CLAUDE.md here; the run's memory goes to the user memory"
  MEMORY_TARGET="$CLAUDE_CONFIG_DIR/CLAUDE.md"
else
  MEMORY_TARGET="$PWD/CLAUDE.md"
  EXCLUDE_LINE=/CLAUDE.md
  if [ "$PWD" != "$REPO_DIR" ]; then
    EXCLUDE_LINE="/${PWD#"$REPO_DIR"/}/CLAUDE.md"
  fi
  mkdir -p "$REPO_DIR/.git/info"
  printf '%s\n' "$EXCLUDE_LINE" >>"$REPO_DIR/.git/info/exclude"
fi
if [ -f "$MEMORY_FILE" ] && [ "$OVERWRITE_MEMORY" != true ]; then
  echo "keeping the memory of earlier runs (overwriteMemory is false)"
  cp "$MEMORY_FILE" "$MEMORY_TARGET"
else
  cp "$CONFIG_DIR/CLAUDE.md" "$MEMORY_TARGET"
fi

CLAUDE_ARGS=(-p --output-format stream-json --verbose --model "$MODEL"
  --mcp-config "$CONFIG_DIR/mcp.json" --add-dir "$TASK_DIR")
if [ "$CONTINUE_SESSION" = true ]; then
  if [ -n "$(find "$SESSIONS_DIR/projects" -name '*.jsonl' -print -quit)" ]; then
    CLAUDE_ARGS+=(--continue)
  else
    echo "note: continueSession is set but this workspace has no earlier session; starting a new one"
  fi
fi
run_agent "${CLAUDE_ARGS[@]}"
read_transcript

step "saving the memory"
mkdir -p "${MEMORY_FILE%/*}"
if [ -f "$MEMORY_TARGET" ]; then
  cp "$MEMORY_TARGET" "$MEMORY_FILE"
fi
restore_project_agent_config
save_work
report_result
finish

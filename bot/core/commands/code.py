"""`/code`: run the coding agent on one task for one service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.core import runs
from bot.core.commands.docs import BRANCH_OPTION, DIR_OPTION, MODEL_OPTION, check_model
from bot.core.commands.plan import CreateRun, Effect, PlanContext, Reply, fork_reply, secret_reply
from bot.core.commands.spec import CommandContext, CommandSpec, Option, Positional
from bot.core.markdown import code_span
from bot.core.resources import ACTIVE_PHASES, DNS_LABEL, TOOL_LIST, Branch, ModelName, RelativePath


class CodeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: int = Field(ge=1, le=10_000_000)
    service: str = Field(pattern=DNS_LABEL, max_length=53)
    branch: Branch | None = None
    working_directory: RelativePath | None = None
    model: ModelName | None = None
    platform_repository_url: str | None = Field(default=None, max_length=300)
    """Checked against the installation's rule (host, owners) by `check_code`, which names the problem."""
    local_tools: str | None = Field(default=None, pattern=TOOL_LIST, max_length=500)
    remote_tools: str | None = Field(default=None, pattern=TOOL_LIST, max_length=500)
    prompt_modification: str | None = Field(default=None, min_length=1, max_length=4000)
    continue_session: bool = False
    overwrite_memory: bool = False


def check_code(args: CodeArgs, context: CommandContext) -> str | None:
    return check_model(args, context) or check_platform_repository(args, context)


def check_platform_repository(args: CodeArgs, context: CommandContext) -> str | None:
    """The task documents steer the agent: they come only from this GitHub and from allowed owners."""
    if args.platform_repository_url is not None:
        problem = context.repositories.problem(args.platform_repository_url)
        if problem:
            return (
                f"{code_span('--platform-repo ' + args.platform_repository_url)} is not allowed: {problem}."
            )
    elif context.default_platform_repository_url is not None:
        problem = context.repositories.problem(context.default_platform_repository_url)
        if problem:
            return (
                "The default platform repository (`defaults.platformRepositoryUrl` in "
                f"task-controller-config) is not allowed here: {problem}. Give one with `--platform-repo`, "
                "or ask an admin to change the default."
            )
    return None


def plan_code(args: CodeArgs, context: PlanContext) -> Effect:
    refused = fork_reply(context.origin) or secret_reply(context)
    if refused is not None:
        return refused
    return CreateRun(runs.code_run(args, context.origin, context.index, context.config, context.namespace))


class ContinueArgs(BaseModel):
    """`/code --continue [what to do]` on a pull request a run produced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_modification: str | None = Field(default=None, min_length=1, max_length=20_000)


CONTINUE_USAGE_NOTE = (
    "`/code --continue` works on a pull request that a run produced: it continues that run's session "
    "on the pull request's branch."
)


def plan_continue(args: ContinueArgs, context: PlanContext) -> Effect:
    """Continue the latest run that produced this pull request, on its branch, with what to do."""
    origin = context.origin
    sender = origin.sender
    if not origin.is_pull_request:
        return Reply("not a pull request", f"@{sender} {CONTINUE_USAGE_NOTE} This is an issue.")
    refused = fork_reply(origin)
    if refused is not None:
        return refused
    produced = [run for run in context.runs_of_pull_request if run.get("kind") == "CodeRun"]
    if not produced:
        return Reply(
            "no run produced this pull request",
            f"@{sender} no run of mine produced this pull request, so there is nothing to continue. "
            f"{CONTINUE_USAGE_NOTE} To start a new run: `{CODE.usage}`",
        )
    busy = [run for run in produced if (run.get("status") or {}).get("phase", "Pending") in ACTIVE_PHASES]
    if busy:
        name = busy[-1]["metadata"]["name"]
        return Reply(
            "a run of this pull request is active",
            f"@{sender} run {code_span(name)} is still working on this pull request, and one run at a time "
            "works on a pull request: nothing was started. Ask again when it has finished.",
        )
    refused = secret_reply(context)
    if refused is not None:
        return refused
    # The latest: the highest context version (creation times count whole seconds), then the newest.
    latest = max(
        produced,
        key=lambda run: (
            int(run["spec"].get("contextVersion", 1)),
            run["metadata"].get("creationTimestamp", ""),
            run["metadata"]["name"],
        ),
    )
    manifest = runs.continue_run(latest, origin, context.index, args.prompt_modification, context.namespace)
    return CreateRun(manifest)


CONTINUE = CommandSpec(
    name="code",
    summary="On a pull request a run produced: continue that run on the pull request's branch, with what "
    "to do (the rest of the line).",
    args_model=ContinueArgs,
    form="--continue",
    free_text=Option("--continue", "prompt_modification", "what to do", "at most 20000 characters"),
    examples=("/code --continue add tests for the rounding",),
    plan=plan_continue,
    needs=frozenset({"pull_request", "secret", "runs_of_pull_request"}),
)


CODE = CommandSpec(
    name="code",
    summary="Start the coding agent on a task (from .taskmaster/docs/task-<id>/) for one service.",
    args_model=CodeArgs,
    positionals=(Positional("task_id", "task-id", "a positive integer"),),
    options=(
        Option(
            "--service",
            "service",
            "SERVICE",
            "a DNS-1123 label: lowercase letters, digits and `-`",
            required=True,
        ),
        BRANCH_OPTION,
        DIR_OPTION,
        MODEL_OPTION,
        Option(
            "--platform-repo",
            "platform_repository_url",
            "URL",
            "the SSH or HTTPS URL of a GitHub repository of an allowed owner",
        ),
        Option("--local-tools", "local_tools", "a,b", "a comma-separated list of tool names"),
        Option("--remote-tools", "remote_tools", "x,y", "a comma-separated list of tool names"),
        Option("--prompt", "prompt_modification", "TEXT", "quoted text of at most 4000 characters"),
        Option("--continue", "continue_session", switch=True),
        Option("--overwrite-memory", "overwrite_memory", switch=True),
    ),
    examples=("/code 5 --service trader", '/code 12 --service api --prompt "keep the public API stable"'),
    check=check_code,
    plan=plan_code,
    needs=frozenset({"pull_request", "secret"}),
    variant=CONTINUE,
)

"""`/code`: run the coding agent on one task for one service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.core import runs
from bot.core.commands.continuation import continuation_spec
from bot.core.commands.docs import BRANCH_OPTION, DIR_OPTION, MODEL_OPTION, check_model
from bot.core.commands.plan import CreateRun, Effect, PlanContext, fork_reply, secret_reply
from bot.core.commands.spec import CommandContext, CommandSpec, Option, Positional
from bot.core.markdown import code_span
from bot.core.resources import DNS_LABEL, TOOL_LIST, Branch, ModelName, RelativePath


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


CONTINUE = continuation_spec(
    "CodeRun",
    "On a pull request a code run produced: continue that run on the pull request's branch, with what to "
    "do (the rest of the line).",
    "/code --continue add tests for the rounding",
    lambda: CODE.usage,
)


CODE: CommandSpec = CommandSpec(
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

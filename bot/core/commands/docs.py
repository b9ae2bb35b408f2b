"""`/docs`: write or update documentation for the repository."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.core import runs
from bot.core.commands.continuation import continuation_spec, plan_continuation
from bot.core.commands.plan import CreateRun, Effect, PlanContext, fork_reply, secret_reply
from bot.core.commands.spec import CommandContext, CommandSpec, Option
from bot.core.markdown import code_span
from bot.core.resources import Branch, ModelName, RelativePath

BRANCH_OPTION = Option("--branch", "branch", "BRANCH", "a git branch name")
DIR_OPTION = Option(
    "--dir", "working_directory", "DIR", "a relative path inside the repository, without `..`"
)
MODEL_OPTION = Option("--model", "model", "MODEL", "a full model name from the allowed list")


class DocsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    branch: Branch | None = None
    working_directory: RelativePath | None = None
    model: ModelName | None = None


class ChoosesModel(Protocol):
    @property
    def model(self) -> str | None: ...


def check_model(args: ChoosesModel, context: CommandContext) -> str | None:
    """Shared by every command that takes `--model`."""
    if args.model is not None and args.model not in context.allowed_models:
        allowed = ", ".join(code_span(name) for name in context.allowed_models)
        return f"{code_span('--model ' + args.model)} is not allowed here: choose one of {allowed}."
    return None


def plan_docs(args: DocsArgs, context: PlanContext) -> Effect:
    """On a pull request a DocsRun produced, a bare `/docs` continues that run (on its branch, no
    second pull request); anywhere else, and with options, it starts a new run."""
    origin = context.origin
    produced_docs = any(run.get("kind") == "DocsRun" for run in context.runs_of_pull_request)
    if args == DocsArgs() and origin.is_pull_request and produced_docs:
        return plan_continuation("DocsRun", None, context, DOCS.usage)
    refused = fork_reply(origin) or secret_reply(context)
    if refused is not None:
        return refused
    return CreateRun(runs.docs_run(args, origin, context.index, context.config, context.namespace))


DOCS_CONTINUE = continuation_spec(
    "DocsRun",
    "On a pull request a docs run produced: continue that documentation on the pull request's branch, "
    "with what to do (the rest of the line). A bare `/docs` there does the same.",
    "/docs --continue document the retry settings too",
    lambda: DOCS.usage,
)


DOCS: CommandSpec = CommandSpec(
    name="docs",
    summary="Start a documentation agent for this repository (on a PR: from the PR's branch).",
    args_model=DocsArgs,
    options=(BRANCH_OPTION, DIR_OPTION, MODEL_OPTION),
    examples=("/docs", "/docs --dir services/trader --branch main"),
    check=check_model,
    plan=plan_docs,
    needs=frozenset({"pull_request", "secret", "runs_of_pull_request"}),
    variant=DOCS_CONTINUE,
)

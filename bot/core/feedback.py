"""Run state -> what GitHub should show: the tracking comment, the check run, the pull request.

Pure: the reporter (bot/reporter.py) compares this with what it last reported (kept in the run's
annotations) and sends only the difference, so a restart or a resync reports nothing twice.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel

from bot.core.activity import cost_text, duration_text, turns_text
from bot.core.commands.code import CODE
from bot.core.commands.docs import DOCS
from bot.core.markdown import code_span
from bot.core.origin import ANNOTATION_PREFIX, from_annotations
from bot.core.reconcile import NO_CHANGES, TOOLS_REFUSED

TRACKING_MARKER = "<!-- orchestrator-run: {namespace}/{name} -->"
CANCEL_ACTION = "cancel"
RETRY_ACTION = "retry"
_PHASE_WORDS = {
    None: ("⏳", "queued"),
    "Queued": ("⏳", "queued"),
    "Pending": ("⏳", "starting"),
    "Running": ("🏃", "running"),
    "Succeeded": ("✅", "succeeded"),
    "Failed": ("❌", "failed"),
    "Cancelled": ("🚫", "cancelled"),
}
_CONCLUSIONS = {"Succeeded": "success", "Failed": "failure", "Cancelled": "cancelled"}


@dataclass(frozen=True)
class RunView:
    """The fields of a run that feedback shows, read from its manifest."""

    kind: str
    name: str
    namespace: str
    phase: str | None
    message: str | None
    user: str
    model: str
    repository: str
    issue_number: int
    installation_id: int
    created: str | None
    last_update: str | None
    task_id: int | None = None
    service: str | None = None
    context_version: int = 1
    comment_id: int | None = None
    head_sha: str | None = None
    branch: str | None = None
    commit: str | None = None
    """The commit the run's work ended on (its result), once finished."""
    pull_request_url: str | None = None
    retry_of: str | None = None
    continues: str | None = None
    """The run this one continues (on the pull request that run produced)."""
    command: str = ""
    """The command that asks for exactly this run (`run_command`), shown so that whoever started it
    (e.g. by adding a label to someone else's issue) sees what runs."""
    no_changes: bool = False
    """The agent finished without changing anything (reconcile's `NoChanges` reason)."""
    refused_tools: str | None = None
    """The `ToolsRefused` condition's message: the agent was refused tools it tried to use."""

    @property
    def phase_words(self) -> tuple[str, str]:
        if self.phase == "Succeeded" and self.no_changes:
            return "⚪", "finished with no changes"
        return _PHASE_WORDS.get(self.phase, ("⏳", "queued"))

    @property
    def conclusion(self) -> str | None:
        if self.phase == "Succeeded" and self.no_changes:
            return "neutral"  # nothing to review: neither a green tick nor a failure
        return _CONCLUSIONS.get(self.phase or "")

    waiting_for: str | None = None
    """`status.waitingFor`: while queued for a workspace, the run using it."""
    waiting_for_comment: str | None = None
    """The tracking comment of `waiting_for`, when the reporter found one (`tracking_comment_url`)."""
    progress: Mapping[str, Any] | None = None
    """`status.progress`: what the agent's transcript says (written by the log follower)."""
    page_url: str | None = None
    """The run's own page (the whole transcript), when the bot serves one."""

    @property
    def finished(self) -> bool:
        return self.phase in _CONCLUSIONS

    @property
    def title(self) -> str:
        if self.kind == "CodeRun":
            return f"code task-{self.task_id} ({self.service})"
        return "docs"


def run_view(run: dict[str, Any]) -> RunView:
    metadata = run["metadata"]
    origin = from_annotations(metadata.get("annotations") or {})
    spec = run.get("spec") or {}
    status = run.get("status") or {}
    comment = origin.get("comment-id")
    return RunView(
        kind=run["kind"],
        name=metadata["name"],
        namespace=metadata.get("namespace", ""),
        phase=status.get("phase"),
        message=status.get("message"),
        user=spec.get("githubUser", ""),
        model=spec.get("model", ""),
        repository=origin.get("repository", ""),
        issue_number=int(origin.get("issue", "0")),
        installation_id=int(origin.get("installation-id", "0")),
        created=metadata.get("creationTimestamp"),
        last_update=status.get("lastUpdate"),
        task_id=spec.get("taskId"),
        service=spec.get("service"),
        context_version=int(spec.get("contextVersion", 1)),
        comment_id=int(comment) if comment else None,
        head_sha=origin.get("head-sha"),
        branch=status.get("branch"),
        commit=status.get("commit"),
        pull_request_url=status.get("pullRequestUrl"),
        retry_of=origin.get("retry-of"),
        continues=origin.get("continues"),
        command=run_command(run["kind"], spec),
        no_changes=any(
            c.get("type") == "Succeeded" and c.get("reason") == NO_CHANGES
            for c in status.get("conditions") or []
        ),
        refused_tools=next(
            (c.get("message") for c in status.get("conditions") or [] if c.get("type") == TOOLS_REFUSED), None
        ),
        progress=status.get("progress") if isinstance(status.get("progress"), dict) else None,
        waiting_for=status.get("waitingFor") if status.get("phase") == "Queued" else None,
    )


def tracking_comment_url(run: dict[str, Any]) -> str | None:
    """Where `run`'s tracking comment is on GitHub, once the reporter has posted it."""
    annotations = run["metadata"].get("annotations") or {}
    origin = from_annotations(annotations)
    comment_id, repository, issue = (
        annotations.get(TRACKING_COMMENT_ID),
        origin.get("repository-html-url"),
        origin.get("issue"),
    )
    if not (comment_id and comment_id.isdigit() and repository and issue):
        return None
    return f"{repository}/issues/{issue}#issuecomment-{comment_id}"


def queued_text(view: RunView) -> str:
    """The queued run's status message, the run it waits for linked to that run's tracking comment."""
    message = view.message or ""
    if view.waiting_for and view.waiting_for_comment:
        name = code_span(view.waiting_for)
        message = message.replace(name, f"[{name}]({view.waiting_for_comment})", 1)
    return message


_SPEC_KEYS = {"DocsRun": {"branch": "sourceBranch"}}
"""Where a run's spec names a field differently from its command's arguments."""


CONTINUATION_SHOWN = 200
"""A continuation's instructions longer than this (a review's, typically) are cut in its command line."""


def run_command(kind: str, spec: dict[str, Any]) -> str:
    """The command line, generated from the command's declaration, that gives this run's spec. A run
    that continues a pull request (its `workBranch` set) shows the continuation form given there."""
    command = CODE if kind == "CodeRun" else DOCS
    if spec.get("workBranch") and command.variant is not None:
        instructions = " ".join(str(spec.get("promptModification") or "").split())
        if len(instructions) > CONTINUATION_SHOWN:
            instructions = instructions[: CONTINUATION_SHOWN - 1].rstrip() + "…"
        return " ".join(filter(None, (f"/{command.name}", command.variant.form, instructions)))
    renamed = _SPEC_KEYS.get(kind, {})
    words = [f"/{command.name}"]
    for positional in command.positionals:
        value = spec.get(renamed.get(positional.field, to_camel(positional.field)))
        if value is not None:
            words.append(shlex.quote(str(value)))
    for option in command.options:
        value = spec.get(renamed.get(option.field, to_camel(option.field)))
        if option.switch and value:
            words.append(option.flag)
        elif not option.switch and value not in (None, ""):
            words += [option.flag, shlex.quote(str(value))]
    return " ".join(words)


def elapsed(start: str | None, end: str | None) -> str:
    if not start or not end:
        return "-"
    seconds = int((_parse(end) - _parse(start)).total_seconds())
    if seconds < 0:
        return "-"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def tracking_marker(view: RunView) -> str:
    return TRACKING_MARKER.format(namespace=view.namespace, name=view.name)


def tracking_comment(view: RunView) -> str:
    """The one comment per run, edited in place as the phase changes."""
    icon, word = view.phase_words
    rows = [
        ("Run", f"`{view.name}`"),
        ("Kind", view.kind),
        *([("Task", f"{view.task_id}"), ("Service", f"`{view.service}`")] if view.kind == "CodeRun" else []),
        ("Model", f"`{view.model}`"),
        ("User", f"@{view.user}"),
        ("Elapsed", elapsed(view.created, view.last_update)),
    ]
    if view.kind == "CodeRun" and view.context_version > 1:
        rows.append(("Attempt", str(view.context_version)))
    if view.continues:
        rows.append(("Continues", f"`{view.continues}`"))
    elif view.retry_of:
        rows.append(("Retries", f"`{view.retry_of}`"))
    if view.branch:
        rows.append(("Branch", f"`{view.branch}`"))
    if view.pull_request_url:
        rows.append(("Pull request", view.pull_request_url))
    if view.page_url:
        rows.append(("Transcript", f"[the run's page]({view.page_url})"))
    table = "\n".join(f"| {key} | {value} |" for key, value in rows)
    lines = [f"{icon} **{view.title}** is **{word}**", "", "| | |", "|---|---|", table]
    if view.command:
        lines += ["", f"Command: {code_span(view.command)}"]
    lines += progress_lines(view)
    if view.phase == "Failed" and view.message:
        lines += [
            "",
            f"**Why it failed:** {view.message}",
            "",
            "Comment `/retry` (optionally with what to do differently) to try again.",
        ]
    elif view.phase == "Cancelled" and view.message:
        lines += ["", view.message]
    elif view.phase == "Succeeded" and view.message and (view.no_changes or view.refused_tools):
        lines += ["", f"**Result:** {view.message}"]
    elif view.phase == "Queued" and view.message:
        lines += ["", queued_text(view), "", "Comment `/cancel` to take it out of the queue."]
    elif view.phase in (None, "Pending", "Running"):
        lines += ["", "Comment `/cancel` to stop it."]
    lines += ["", tracking_marker(view)]
    return "\n".join(lines)


def check_run_name(view: RunView) -> str:
    return f"orchestrator / {view.title}"


def check_run_state(view: RunView) -> dict[str, Any]:
    """The check run's fields (no id): status, conclusion, output and the buttons that apply now."""
    _, word = view.phase_words
    summary = tracking_comment(view).replace(tracking_marker(view), "").strip()
    state: dict[str, Any] = {
        "name": check_run_name(view),
        "external_id": view.name,
        "output": {"title": f"{view.title}: {word}", "summary": summary},
    }
    if view.page_url:
        state["details_url"] = view.page_url
    text = check_run_text(view)
    if text:
        state["output"]["text"] = text
    if view.phase in _CONCLUSIONS:
        state["status"] = "completed"
        state["conclusion"] = view.conclusion
        if view.last_update:
            state["completed_at"] = view.last_update
    else:
        state["status"] = "in_progress" if view.phase == "Running" else "queued"
    if view.phase in ("Failed", "Cancelled"):
        state["actions"] = [
            {"label": "Retry", "description": "Start a new run from this one", "identifier": RETRY_ACTION}
        ]
    elif not view.finished:
        state["actions"] = [{"label": "Cancel", "description": "Stop this run", "identifier": CANCEL_ACTION}]
    else:
        state["actions"] = []
    return state


def pull_request(view: RunView) -> dict[str, str]:
    """Title and body of the PR the bot opens when the agent pushed a branch but opened none."""
    what = f"Task {view.task_id} for {view.service}" if view.kind == "CodeRun" else "Documentation update"
    body = (
        f"{what}, made by the coding agent run `{view.name}` for @{view.user}.\n\n"
        f"Requested in #{view.issue_number}.\n\n<!-- orchestrator-run: {view.namespace}/{view.name} -->"
    )
    return {"title": f"{what} ({view.name})", "body": body}


def fingerprint(content: Any) -> str:
    """A short digest of what was last reported, stored in an annotation to skip repeats."""
    return hashlib.sha256(repr(content).encode()).hexdigest()[:16]


REPORTED_COMMENT = ANNOTATION_PREFIX + "reported-comment"
REPORTED_CHECK = ANNOTATION_PREFIX + "reported-check"
TRACKING_COMMENT_ID = ANNOTATION_PREFIX + "tracking-comment-id"
CHECK_RUN_ID = ANNOTATION_PREFIX + "check-run-id"
REACTION = ANNOTATION_PREFIX + "reaction"


# --- the agent's progress (issue 14): checklist, activity, result and cost, the activity log's tail ---

CHECK_RUN_TEXT_LIMIT = 65_535
"""GitHub refuses a check run's output.text longer than this."""
_TODO_ICONS = {"completed": "✅", "in_progress": "🔄", "pending": "⬜"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def markdown_text(text: str) -> str:
    """Agent-written text shown as plain text: no Markdown, no HTML, no @-mentions, one line."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("@", "@\u200b")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def progress_lines(view: RunView) -> list[str]:
    """The progress part of the tracking comment: while running the checklist and what the agent is
    doing; at the end the result, turns, duration and cost, and the checklist as it was left."""
    progress = view.progress
    if not progress:
        return []
    lines: list[str] = [""]
    result = progress.get("result") if isinstance(progress.get("result"), dict) else None
    if result is not None and view.phase != "Cancelled":
        lines += _result_lines(progress, result)
    todos = [t for t in progress.get("todos") or [] if isinstance(t, dict)]
    if todos:
        done, total = progress.get("todosDone", 0), progress.get("todosTotal", len(todos))
        turns = progress.get("turns", 0)
        lines.append(f"**Todos:** {done}/{total} done" + ("" if result else f" · {turns_text(turns)} so far"))
        for todo in todos:
            status = str(todo.get("status"))
            content = markdown_text(str(todo.get("content", "")))
            lines.append(
                f"- {_TODO_ICONS.get(status, '⬜')} "
                + (f"**{content}**" if status == "in_progress" else content)
            )
        if total > len(todos):
            lines.append(f"- … and {total - len(todos)} more")
    if not view.finished and progress.get("lastActivity") and not result:
        if not todos:
            lines.append(f"**So far:** {turns_text(progress.get('turns', 0))}")
        lines += ["", f"**Now:** {code_span(str(progress['lastActivity']))}"]
    return lines if len(lines) > 1 else []


def _result_lines(progress: Mapping[str, Any], result: Mapping[str, Any]) -> list[str]:
    turns = result.get("numTurns", progress.get("turns"))
    facts = [turns_text(turns) if turns is not None else None]
    facts.append(duration_text(result["durationMs"]) if isinstance(result.get("durationMs"), int) else None)
    facts.append(cost_text(_number(progress.get("costUsd"))) if progress.get("costUsd") is not None else None)
    shown = " · ".join(fact for fact in facts if fact)
    if result.get("outcome") == "success":
        return ["**Result:** ✅ success" + (f" · {shown}" if shown else ""), ""]
    subtype = f" ({markdown_text(str(result['subtype']))})" if result.get("subtype") else ""
    lines = [f"**Result:** ❌ the agent failed{subtype}" + (f" · {shown}" if shown else "")]
    if result.get("error"):
        lines.append("> " + markdown_text(str(result["error"])))
    return [*lines, ""]


def check_run_text(view: RunView) -> str | None:
    """The check run's output.text: the activity log's last lines, for a person; on failure the error
    first and the lines before it. Within GitHub's 65,535 characters."""
    progress = view.progress or {}
    tail = [str(line) for line in progress.get("tail") or [] if isinstance(line, str)]
    result: Mapping[str, Any] = progress["result"] if isinstance(progress.get("result"), dict) else {}
    failed = view.phase == "Failed" or (result.get("outcome") == "failure" and view.phase != "Cancelled")
    if not tail and not (failed and result.get("error")):
        return None
    head: list[str] = []
    if failed and result.get("error"):
        head += [
            "**Error:** " + markdown_text(str(result["error"])),
            "",
            f"The agent's last {len(tail)} steps, up to the error:",
        ]
    else:
        head.append(f"The agent's last {len(tail)} steps:")
    while True:
        longest = max((len(run) for line in tail for run in re.findall(r"`+", line)), default=0)
        fence = "`" * max(3, longest + 1)
        text = "\n".join([*head, "", f"{fence}text", *tail, fence])
        if len(text) <= CHECK_RUN_TEXT_LIMIT or not tail:
            return text[:CHECK_RUN_TEXT_LIMIT]
        tail = tail[len(tail) // 10 + 1 :]


def milestone(view: RunView) -> tuple[Any, ...]:
    """What a person must see at once (the phase, the PR link, the result, the link to the run a
    queued run waits for); a change of anything else (the checklist, the activity, the log's tail,
    the place in line) waits for the edit throttle."""
    result = (view.progress or {}).get("result")
    finished_message = view.message if view.finished else None
    return (view.phase, view.pull_request_url, bool(result), finished_message, view.waiting_for_comment)

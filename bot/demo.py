"""`orchestrator-bot demo`: the whole flow on one machine, the real code paths over HTTP.

It starts the local Kubernetes API (CRDs, task-controller-config and demo SSH secrets applied, Jobs
finished by a simulator that "pushes" the agent's branch), the local GitHub API (demo-org/trader,
people with and without write access, an open PR), `serve` and `controller`; then it plays real
signed deliveries and checks that every step did what it should. Exit status 0 only if all did.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from kubernetes_asyncio.client.exceptions import ApiException

from bot.core.resources import RunKind
from bot.kube import Kube, api_client
from bot.logs import configure_logging
from bot.sandbox import payloads
from bot.sandbox.agent import framed, recorded
from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import (
    NAMESPACE,
    WEBHOOK_SECRET,
    Stack,
    agent_pushes_a_branch,
    pushed_branch,
    running_stack,
)
from bot.sandbox.story import (
    Check,
    Printer,
    answer_of,
    created_run,
    follow_progress,
    result_line,
    watch_comments,
    without_marker,
)

T = TypeVar("T")
STEP_TIMEOUT_SECONDS = 20.0
LONG_TASK = "6"
"""The demo's agent works on task 6 for minutes, so there is time to /cancel it."""


class Demo:
    def __init__(self, stack: Stack, out: Printer) -> None:
        self.stack = stack
        self.out = out
        self.checks: list[Check] = []
        self.repo = stack.scene.repo
        self.kube: Kube  # set by play(), for the duration of the script

    # --- observing ------------------------------------------------------------------------------

    async def runs(self, kind: RunKind) -> list[dict[str, Any]]:
        return await self.kube.list_runs(kind, NAMESPACE)

    async def run_count(self) -> int:
        return len(await self.runs("CodeRun")) + len(await self.runs("DocsRun"))

    async def run(self, kind: RunKind, name: str) -> dict[str, Any] | None:
        return next((r for r in await self.runs(kind) if r["metadata"]["name"] == name), None)

    async def until(self, check: Callable[[], Awaitable[T | None]], what: str) -> T | None:
        deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.05)
        self.out.line(self.out.bad(f"gave up waiting for {what}"))
        return None

    async def follow_phases(self, kind: RunKind, name: str, until: tuple[str, ...]) -> list[str]:
        """Print the run's phase changes as they happen, until one of `until`."""
        seen: list[str] = []
        deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            run = await self.run(kind, name)
            phase = ((run or {}).get("status") or {}).get("phase")
            if phase and (not seen or seen[-1] != phase):
                seen.append(phase)
                self.out.line(f"phase → {phase}")
            if phase in until:
                break
            await asyncio.sleep(0.05)
        return seen

    def bot_comments(self, issue: int) -> list[dict[str, Any]]:
        return [c for c in self.stack.gh.comments(self.repo, issue) if c["user"]["type"] == "Bot"]

    def expect(self, step: str, expected: str, observed: str, ok: bool) -> None:
        self.checks.append(Check(step, expected, observed, ok))
        mark = self.out.good("✓") if ok else self.out.bad("✗")
        self.out.line(f"{mark} {expected}: {observed}")

    # --- acting as people on GitHub -------------------------------------------------------------

    async def someone_comments(self, issue: int, user: str, body: str) -> dict[str, Any]:
        """The person writes the comment; the local GitHub delivers the signed webhook to serve."""
        self.out.line(f"{user} comments on #{issue}: {body}")
        comment, record = await self.stack.gh.user_comments(self.repo, issue, user, body)
        answer = answer_of(record.response_body)
        self.out.line(f"→ GitHub delivers issue_comment {record.guid[:8]}… ← {record.status_code} {answer}")
        return {"comment": comment, "record": record, "answer": answer}

    async def show_run_children(self, kind: RunKind, name: str) -> None:
        core, batch = self.kube.core, self.kube.batch
        configmap = await self.until(
            lambda: _maybe(core.read_namespaced_config_map(f"{name}-files", NAMESPACE)), "ConfigMap"
        )
        if configmap is not None:
            self.out.line(f"ConfigMap {name}-files: {', '.join(sorted(configmap.data))}")
        job = await self.until(lambda: _maybe(batch.read_namespaced_job(name, NAMESPACE)), "Job")
        if job is not None:
            container = job.spec.template.spec.containers[0]
            secret = next(v.secret.secret_name for v in job.spec.template.spec.volumes if v.secret)
            self.out.line(
                f"Job {name}: image {container.image}, command {' '.join(container.command)}, key {secret}"
            )

    async def tracking_comment(self, issue: int, contains: str) -> dict[str, Any] | None:
        async def found() -> dict[str, Any] | None:
            for comment in self.bot_comments(issue):
                if "orchestrator-run:" in comment["body"] and contains in comment["body"]:
                    return comment
            return None

        return await self.until(found, f"the tracking comment to say {contains!r}")

    # --- the script -----------------------------------------------------------------------------

    async def code_on_an_issue(self, number: int) -> str | None:
        self.out.step(number, "A writer asks for code on an issue")
        sent = await self.someone_comments(5, "alice", "/code 5 --service trader")
        name = created_run(sent["answer"])
        self.expect(
            "code on issue",
            "webhook answered 200 after storing the run",
            str(sent["record"].status_code),
            sent["record"].status_code == 200 and bool(name),
        )
        if not name:
            return None
        run = await self.run("CodeRun", name)
        spec = (run or {}).get("spec", {})
        self.out.line(
            f"CodeRun {name}: task {spec.get('taskId')}, service {spec.get('service')}, model {spec.get('model')}, user {spec.get('githubUser')}"
        )
        await self.show_run_children("CodeRun", name)
        checklists = await follow_progress(self.out, self.stack, 5, name, STEP_TIMEOUT_SECONDS)
        self.expect(
            "code on issue",
            "the comment showed the checklist as the agent worked",
            f"{len(checklists)} states",
            len(checklists) >= 2,
        )
        phases = await self.follow_phases("CodeRun", name, ("Succeeded", "Failed"))
        self.expect("code on issue", "run succeeded", " → ".join(phases), phases[-1:] == ["Succeeded"])
        comment_id = int(sent["comment"]["id"])

        async def reacted() -> list[dict[str, Any]]:
            return self.stack.gh.reactions(self.repo, comment_id)

        reactions = await self.until(reacted, "👀") or []
        self.expect(
            "code on issue",
            "one 👀 on the command",
            " ".join(r["content"] for r in reactions) or "none",
            [r["content"] for r in reactions] == ["eyes"],
        )
        comment = await self.tracking_comment(5, "/pull/")
        if comment is not None:
            self.out.line("💬 tracking comment, as GitHub shows it:")
            self.out.block(without_marker(comment["body"]))
        self.expect(
            "code on issue",
            "the comment ends with the result, turns and cost",
            result_line(comment["body"]) if comment else "no comment",
            comment is not None and "15 turns" in comment["body"] and "$0.10" in comment["body"],
        )
        runs = await self.runs("CodeRun")
        progress = next(
            ((r.get("status") or {}).get("progress") or {} for r in runs if r["metadata"]["name"] == name), {}
        )
        self.out.line(
            f"status.progress: {progress.get('todosDone')}/{progress.get('todosTotal')} todos, "
            f"{progress.get('turns')} turns, ${progress.get('costUsd', 0):.2f} (kubectl get cr shows TURNS and COST)"
        )
        pulls = [p for p in self.stack.gh.pulls(self.repo) if p["head"]["ref"] == "feature/task-5-trader"]
        url = pulls[0]["html_url"] if pulls else "none"
        self.out.line(f"🔗 pull request: {url}")
        self.expect(
            "code on issue",
            "the bot opened the PR and linked it",
            url,
            bool(pulls) and comment is not None and url in comment["body"],
        )
        if self.stack.settings.run_page:
            page = self.stack.run_page_url(name)
            self.out.line(f"📄 the run's page (the whole transcript; sign in as alice): {page}")
        return str(sent["record"].guid)

    async def docs_on_a_pull_request(self, number: int) -> None:
        self.out.step(number, "A writer asks for docs on a pull request")
        sent = await self.someone_comments(7, "alice", "/docs")
        name = created_run(sent["answer"])
        run = await self.run("DocsRun", name) if name else None
        branch = ((run or {}).get("spec") or {}).get("sourceBranch")
        self.expect(
            "docs on PR",
            "DocsRun starts from the PR's head branch",
            str(branch),
            branch == "feature/order-book",
        )
        if not name:
            return
        phases = await self.follow_phases("DocsRun", name, ("Succeeded", "Failed"))
        self.expect("docs on PR", "run succeeded", " → ".join(phases), phases[-1:] == ["Succeeded"])

        async def finished_check() -> dict[str, Any] | None:
            return next(
                (
                    c
                    for c in self.stack.gh.check_runs(self.repo)
                    if c["external_id"] == name and c["status"] == "completed"
                ),
                None,
            )

        check = await self.until(finished_check, "the check run to complete")
        if check is not None:
            self.out.line(f"✔ check run “{check['name']}” on {check['head_sha'][:7]}: {check['conclusion']}")
            self.out.block(check["output"]["title"])
        self.expect(
            "docs on PR",
            "check run completed with success",
            str((check or {}).get("conclusion")),
            (check or {}).get("conclusion") == "success",
        )
        comment = await self.tracking_comment(7, "/pull/")
        self.expect(
            "docs on PR",
            "tracking comment links the docs PR",
            "linked" if comment else "missing",
            comment is not None,
        )

    async def label_on_an_issue(self, number: int) -> None:
        self.out.step(number, "A maintainer labels an issue `docs`")
        before = len(await self.runs("DocsRun"))
        payload = payloads.issues_labeled(
            self.repo,
            5,
            "docs",
            "carol",
            installation_id=self.stack.scene.installation_id,
            api_url=self.stack.gh.url,
        )
        record = await self.stack.gh.deliver("issues", payload)
        answer = answer_of(record.response_body)
        self.out.line(
            f"carol adds the label `docs` to #5 → GitHub delivers issues.labeled ← {record.status_code} {answer}"
        )
        after = len(await self.runs("DocsRun"))
        self.expect("label", "the label started a DocsRun", f"{after - before} new", after - before == 1)
        name = created_run(answer)
        if name:
            phases = await self.follow_phases("DocsRun", name, ("Succeeded", "Failed"))
            self.expect("label", "run succeeded", " → ".join(phases), phases[-1:] == ["Succeeded"])

    async def refused(self, number: int, title: str, user: str, body: str, wanted_reply: str) -> None:
        self.out.step(number, title)
        before = await self.run_count()
        replies_before = len(self.bot_comments(5))
        sent = await self.someone_comments(5, user, body)
        after = await self.run_count()

        async def replied() -> dict[str, Any] | None:
            fresh = self.bot_comments(5)[replies_before:]
            return next((c for c in fresh if wanted_reply in c["body"]), None)

        reply = await self.until(replied, "the reply")
        if reply is not None:
            self.out.line("💬 reply:")
            self.out.block(reply["body"].split("<!--")[0])
        self.expect(
            title,
            "no run, one explanatory reply",
            f"{after - before} runs, {'a' if reply else 'no'} reply",
            after == before and reply is not None and sent["record"].status_code == 200,
        )

    async def duplicate_delivery(self, number: int, guid: str | None) -> None:
        self.out.step(number, "GitHub delivers the first command again (same delivery id)")
        first = next((d for d in self.stack.gh.deliveries if d.guid == guid), None)
        if first is None:
            self.expect("duplicate", "a first delivery to repeat", "none", False)
            return
        before = len(await self.runs("CodeRun"))
        record = await self.stack.gh.deliver("issue_comment", first.request_body, first.guid)
        answer = answer_of(record.response_body)
        self.out.line(f"→ redelivery {first.guid[:8]}… ← {record.status_code} {answer}")
        after = len(await self.runs("CodeRun"))
        self.expect(
            "duplicate",
            "answered 200, still one run for that command",
            f"{after - before} new runs",
            record.status_code == 200 and after == before,
        )

    async def cancel(self, number: int) -> None:
        self.out.step(number, "A long run is cancelled")
        sent = await self.someone_comments(5, "alice", f"/code {LONG_TASK} --service api")
        name = created_run(sent["answer"])
        if not name:
            self.expect("cancel", "a run to cancel", "none", False)
            return
        await self.follow_phases("CodeRun", name, ("Running",))
        await self.someone_comments(5, "alice", "/cancel")
        phases = await self.follow_phases("CodeRun", name, ("Cancelled",))
        job_gone = await self.until(lambda: _job_gone(self.kube, name), "the Job to be deleted")
        comment = await self.tracking_comment(5, "cancelled")
        self.expect(
            "cancel",
            "phase Cancelled, Job deleted, comment says so",
            f"{phases[-1] if phases else '?'}, job {'gone' if job_gone else 'still there'}",
            phases[-1:] == ["Cancelled"] and bool(job_gone) and comment is not None,
        )

    async def play(self) -> bool:
        async with api_client(self.stack.kube.kubeconfig_path, "orchestrator-bot-demo") as api:
            self.kube = Kube(api)
            guid = await self.code_on_an_issue(1)
            await self.docs_on_a_pull_request(2)
            await self.label_on_an_issue(3)
            await self.refused(
                4,
                "A read-only user tries",
                "bob",
                "/code 5 --service trader",
                "only people with write access",
            )
            await self.refused(
                5, "A malformed command", "alice", "/code five --service trader", "Usage: `/code <task-id>"
            )
            await self.duplicate_delivery(6, guid)
            await self.cancel(7)
        return all(check.ok for check in self.checks)

    def summary(self) -> None:
        self.out.title("\nSummary")
        width = max(len(c.step) for c in self.checks)
        for check in self.checks:
            mark = self.out.good("pass") if check.ok else self.out.bad("FAIL")
            self.out.line(f"{mark}  {check.step.ljust(width)}  {check.expected}", indent=2)
        passed = sum(c.ok for c in self.checks)
        self.out.line(f"{passed}/{len(self.checks)} checks passed", indent=2)


async def _maybe(call: Awaitable[T]) -> T | None:
    try:
        return await call
    except ApiException:
        return None


async def _job_gone(kube: Kube, name: str) -> bool:
    return await kube.get_job(NAMESPACE, name) is None


def demo_outcome(job: dict[str, Any]) -> JobOutcome:
    """The simulated agent: the real CLI's transcript at its recorded pace (about 3 s), then it pushes
    its branch; task 6 works long enough to cancel."""
    if (job["metadata"].get("labels") or {}).get("task-id") == LONG_TASK:
        return JobOutcome(succeeded=True, run_seconds=600)
    return replace(agent_pushes_a_branch(job), transcript=framed(recorded("success"), pushed_branch(job)))


def watchable_outcome(job: dict[str, Any]) -> JobOutcome:
    """After the script (--keep-running): the agent works for about a minute, so a person can watch
    its checklist move in the tracking comment."""
    return replace(
        agent_pushes_a_branch(job), transcript=framed(recorded("success", speed=0.05), pushed_branch(job))
    )


async def run_demo(out: Printer, keep_running: bool, workdir: Path) -> int:
    log_file = workdir / "orchestrator-bot.log"
    with log_file.open("a") as log_stream:
        configure_logging("INFO", secrets=[WEBHOOK_SECRET], stream=log_stream)
        store_url = f"sqlite:///{(workdir / 'runs.sqlite3').resolve()}"
        async with running_stack(kubeconfig_path=workdir / "kubeconfig", store_url=store_url) as stack:
            stack.default_outcome = demo_outcome
            out.title("orchestrator-bot demo: the whole flow on this machine, real code paths over HTTP")
            out.line(f"local Kubernetes API  {stack.kube.url}  (kubeconfig {stack.kube.kubeconfig_path})", 2)
            out.line(f"local GitHub API      {stack.gh.url}  (demo-org/trader: alice writes, bob reads)", 2)
            out.line(f"webhook service       {stack.webhook_url}", 2)
            out.line(f"run pages             {stack.public_url}/runs  (runs kept in {store_url})", 2)
            out.line(f"controller + reporter leader of Lease {NAMESPACE}/orchestrator-controller", 2)
            out.line(f"logs                  {log_file}", 2)
            demo = Demo(stack, out)
            ok = await demo.play()
            demo.summary()
            if keep_running:
                stack.default_outcome = watchable_outcome
                _print_how_to_play(out, stack)
                await watch_comments(out, stack)
    return 0 if ok else 1


def _print_how_to_play(out: Printer, stack: Stack) -> None:
    kubeconfig = stack.kube.kubeconfig_path
    out.title("\nStill running (Ctrl-C to stop). Try:")
    out.line(f"kubectl --kubeconfig {kubeconfig} -n {NAMESPACE} get coderuns,docsruns,jobs", 2)
    out.line(
        f"orchestrator-bot send-comment --github-api {stack.gh.url} --repository demo-org/trader "
        f"--issue 5 --user alice '/code 9 --service trader'",
        2,
    )
    out.line(f"(webhook {stack.webhook_url}, secret {WEBHOOK_SECRET!r}: for your own signed deliveries)", 2)
    out.line(
        f"Open {stack.public_url}/runs in a browser and sign in (the local GitHub lets you pick alice):", 2
    )
    out.line("each run's page shows its whole transcript, and a running one updates itself.", 2)
    out.line("A new run's agent now works for about a minute: its tracking comment's checklist is printed", 2)
    out.line("here each time the bot edits it; `kubectl get cr` shows its TURNS and COST at the end.", 2)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the whole flow on this machine: no cluster, no GitHub account",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave everything running after the script"
    )
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    parser.add_argument(
        "--workdir", type=Path, help="where the kubeconfig and logs go (default: a temporary folder)"
    )
    parser.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    colour = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    out = Printer(sys.stdout, colour)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="orchestrator-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    try:
        return asyncio.run(run_demo(out, args.keep_running, workdir))
    except KeyboardInterrupt:
        return 0

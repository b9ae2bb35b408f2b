"""What the agent is doing, live on GitHub (issue 14): the simulated agent replays the real CLI's
transcripts into its Pod's log; the controller's log follower writes status.progress; the reporter
shows the checklist, the activity, the result and cost in the tracking comment and the check run.
Local Kubernetes + GitHub APIs over HTTP, serve and controller running."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from bot.core.activity import activity_lines
from bot.core.redact import REDACTED, redact_stream_line
from bot.core.transcript import AgentProgress, fold, parse_line
from bot.sandbox.agent import flood, framed, recorded
from bot.sandbox.kube import JobOutcome
from bot.sandbox.stack import NAMESPACE, Stack, pushed_branch, running_stack
from tests.core.test_redact import PLANTED

from .conftest import api_client_for, eventually
from .test_feedback import bot_comments, command, run_in_phase

PR = 7


@pytest.fixture
async def live() -> AsyncIterator[tuple[Stack, client.ApiClient]]:
    async with running_stack(controller=True) as stack, await api_client_for(stack) as api:
        yield stack, api


def agent(
    name: str, speed: float, succeeded: bool = True, **extra: Any
) -> Callable[[dict[str, Any]], JobOutcome]:
    """The simulated agent printing the recorded transcript `name` at `speed`."""

    def outcome(job: dict[str, Any]) -> JobOutcome:
        branch = pushed_branch(job)
        message = json.dumps({"branch": branch, "commit": "a" * 40}) if succeeded else None
        return JobOutcome(
            succeeded=succeeded,
            termination_message=message,
            transcript=framed(recorded(name, speed), branch if succeeded else None),
            **extra,
        )

    return outcome


def comment_bodies(stack: Stack, comment_id: int | None = None) -> list[str]:
    """Every text the tracking comment had, in order (its creation, then each edit)."""
    bodies = []
    for call in stack.gh.calls:
        body = (call.request_json or {}).get("body") if isinstance(call.request_json, dict) else None
        if not body or "orchestrator-run:" not in body:
            continue
        if (call.method == "POST" and call.path.endswith("/comments")) or (
            call.method == "PATCH" and "/issues/comments/" in call.path
        ):
            bodies.append(body)
    return bodies


def checklists(bodies: list[str]) -> list[list[str]]:
    """The checklist of each version of the comment, as its lines."""
    shown = []
    for body in bodies:
        items = [line for line in body.splitlines() if line.startswith("- ")]
        if items and (not shown or shown[-1] != items):
            shown.append(items)
    return shown


async def test_the_comment_shows_the_todos_as_they_change_then_the_result_and_cost(
    live: tuple[Stack, client.ApiClient], tmp_path: Path
) -> None:
    stack, api = live
    stack.default_outcome = agent("success", speed=0.5)
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)
    run = await eventually(lambda: run_in_phase(api, name, "Succeeded"), within=30, what="Succeeded")

    async def final_comment() -> str | None:
        bodies = comment_bodies(stack)
        return bodies[-1] if bodies and "$0.10" in bodies[-1] else None

    final = await eventually(final_comment, within=20, what="the final cost in the comment")
    assert "**Result:** ✅ success · 15 turns · 2.4 s · $0.10" in final
    assert "**Todos:** 3/3 done" in final
    # The checklist changed as the agent worked: each TodoWrite of the transcript was shown.
    assert checklists(comment_bodies(stack)) == [
        ["- 🔄 **Read src/orders\\.py**", "- ⬜ Fix rounding in place\\_order", "- ⬜ Run the tests"],
        ["- ✅ Read src/orders\\.py", "- 🔄 **Fix rounding in place\\_order**", "- ⬜ Run the tests"],
        ["- ✅ Read src/orders\\.py", "- ✅ Fix rounding in place\\_order", "- ✅ Run the tests"],
    ]
    assert any("**Now:** `" in body for body in comment_bodies(stack))
    assert len(bot_comments(stack, PR)) == 1  # one tracking comment throughout

    progress = (await eventually(lambda: run_in_phase(api, name, "Succeeded"))).get("status", {})["progress"]
    assert (progress["todosDone"], progress["todosTotal"], progress["turns"]) == (3, 3, 15)
    assert progress["costUsd"] == pytest.approx(0.10135775)
    assert progress["result"] == {
        "outcome": "success",
        "subtype": "success",
        "numTurns": 15,
        "durationMs": 2354,
    }
    assert progress["ended"] is True and progress["lines"] == 17 + 3
    assert run["status"]["phase"] == "Succeeded"

    async def completed_check() -> dict[str, Any] | None:
        for check in stack.gh.check_runs(stack.scene.repo):
            if (
                check["external_id"] == name
                and check["status"] == "completed"
                and "$0.10" in check["output"]["summary"]
            ):
                return check
        return None

    check = await eventually(completed_check, within=20, what="the completed check run with the cost")
    text = check["output"]["text"]
    assert "🔧 Edit src/orders.py" in text and "🔧 Bash: python3 -m tests.test_orders" in text
    assert "✅ finished (15 turns, 2.4 s, $0.10)" in text
    assert "+ pushed feature/task-5-trader" in text
    assert '"type"' not in text  # read for a person: no raw JSON
    if shutil.which("kubectl"):
        header, row = (await kubectl_get(stack, "cr", name, tmp_path)).splitlines()[:2]
        assert header.split()[4:7] == ["PHASE", "TURNS", "COST"]
        assert row.split()[4:7] == ["Succeeded", "15", "0.10135775"]


async def kubectl_get(stack: Stack, *args: str | Path) -> str:
    *what, cache = args
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        "--kubeconfig",
        str(stack.kube.kubeconfig_path),
        "--cache-dir",
        str(cache),
        "-n",
        NAMESPACE,
        "get",
        *map(str, what),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


GHS, SK_ANT = PLANTED[0], PLANTED[1]
PEM = "\n".join(["-----BEGIN RSA PRIVATE KEY-----", *PLANTED[2:5], "-----END RSA PRIVATE KEY-----"])


def _line(kind: str, content: list[dict[str, Any]]) -> str:
    return json.dumps(
        {"type": kind, "message": {"id": f"msg_{len(content)}", "role": kind, "content": content}}
    )


def planted_transcript() -> tuple[tuple[float, str], ...]:
    """The real init line, then secrets wherever the comment, check run or status would show them: a
    Bash command, the first line of a tool result, a todo, a Bash output holding a PEM block, the
    model's text, a key printed over several lines by the script, and an error result."""
    init = recorded("success")[0][1]
    todos = {"todos": [{"id": "1", "content": f"Rotate {GHS}", "status": "in_progress", "priority": "high"}]}
    lines = [
        init,
        _line(
            "assistant",
            [
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "Bash",
                    "input": {
                        "command": f"curl -H 'Authorization: Bearer {GHS}' https://api.github.com/user"
                    },
                }
            ],
        ),
        _line("user", [{"type": "tool_result", "tool_use_id": "t1", "content": f"{SK_ANT}\nok"}]),
        _line("assistant", [{"type": "tool_use", "id": "t2", "name": "TodoWrite", "input": todos}]),
        _line(
            "user",
            [{"type": "tool_result", "tool_use_id": "t3", "content": f"{PEM}\ndone", "is_error": False}],
        ),
        _line("assistant", [{"type": "text", "text": f"The key is {SK_ANT} and the token {GHS}"}]),
        *PEM.splitlines(),
        json.dumps(
            {
                "type": "result",
                "subtype": "success",
                "is_error": True,
                "num_turns": 3,
                "duration_ms": 900,
                "total_cost_usd": 0.01,
                "result": f"API Error: 401 bad key {SK_ANT} {PEM}",
                "session_id": "s",
            }
        ),
    ]
    return tuple((0.1 * n, line) for n, line in enumerate(lines))


async def test_planted_secrets_appear_nowhere(
    live: tuple[Stack, client.ApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack, api = live
    stack.default_outcome = lambda job: JobOutcome(
        succeeded=False, transcript=planted_transcript(), exit_code=1
    )
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)

    async def ended() -> dict[str, Any] | None:
        run = await run_in_phase(api, name, "Failed")
        return run if run and (run["status"].get("progress") or {}).get("ended") else None

    run = await eventually(ended, within=30, what="the final progress")
    await eventually(lambda: _calm(stack), what="the reporter to finish")
    places = {
        "status": json.dumps(run["status"]),
        "GitHub": json.dumps([c.request_json for c in stack.gh.calls]),
        "logs": caplog.text,
    }
    secrets = [*PLANTED, PEM]
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"{secret[:16]}… in {where}"
            assert json.dumps(secret)[1:-1] not in text, f"{secret[:16]}… (escaped) in {where}"
    # the places were there to leak into: the secrets' neighbours made it
    shown = json.dumps(run["status"]["progress"])
    assert "Bash: curl -H 'Authorization: [redacted]' https://api.github.com/user" in shown
    assert "Rotate [redacted]" in shown and "The key is [redacted]" in shown
    assert f"API Error: 401 bad key {REDACTED}" in shown


async def _calm(stack: Stack) -> bool:
    before = len(stack.gh.calls)
    await asyncio.sleep(1.5)
    return len(stack.gh.calls) == before


async def test_a_failing_agent_shows_its_error_and_the_lines_before_it_and_offers_retry(
    live: tuple[Stack, client.ApiClient],
) -> None:
    stack, api = live
    stack.default_outcome = agent("error-during-execution", speed=4, succeeded=False, exit_code=1)
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)
    await eventually(lambda: run_in_phase(api, name, "Failed"), within=30, what="Failed")
    error = "The agent stopped with an error during execution \\(error\\_during\\_execution\\)\\."

    async def failed_check() -> dict[str, Any] | None:
        for check in stack.gh.check_runs(stack.scene.repo):
            if (
                check["external_id"] == name
                and check["conclusion"] == "failure"
                and "**Error:**" in (check["output"].get("text") or "")
            ):
                return check
        return None

    check = await eventually(failed_check, within=20, what="the failed check run with the error")
    text = check["output"]["text"]
    assert text.startswith(f"**Error:** {error}")
    assert "🔧 Bash: cat src/orders.py secrets.txt" in text.split("❌")[0]  # the lines before it
    assert [a["identifier"] for a in check["actions"]] == ["retry"]

    async def failed_comment() -> str | None:
        bodies = comment_bodies(stack)
        return bodies[-1] if bodies and "**Result:** ❌" in bodies[-1] else None

    body = await eventually(failed_comment, within=20, what="the failure in the comment")
    assert "**Result:** ❌ the agent failed (error\\_during\\_execution) · 0 turns · 1.0 s · $0.07" in body
    assert f"> {error}" in body
    assert "Comment `/retry`" in body


def expected_activity(transcript: tuple[tuple[float, str], ...]) -> list[str]:
    """The activity log the follower must end with, computed from the transcript by the pure parts."""
    progress, lines, in_key = AgentProgress(), [], False
    for _, line in transcript:
        text, in_key = redact_stream_line(line, in_key)
        event = parse_line(text)
        lines.extend(activity_lines(event, progress))
        progress = fold(progress, event)
    return lines


async def finished_check_text(stack: Stack, name: str) -> str | None:
    for check in stack.gh.check_runs(stack.scene.repo):
        if (
            check["external_id"] == name
            and check["status"] == "completed"
            and "$0.10" in check["output"]["summary"]
        ):
            return str(check["output"]["text"])
    return None


def tail_of(text: str) -> list[str]:
    body = text.split("```text\n", 1)[1]
    return body.rsplit("\n```", 1)[0].splitlines()


@pytest.mark.parametrize("interruption", ["controller restart", "apiserver restart", "log streams cut"])
async def test_an_interruption_mid_run_reports_no_line_twice_and_loses_none(
    live: tuple[Stack, client.ApiClient], interruption: str
) -> None:
    stack, api = live
    stack.default_outcome = agent("success", speed=0.5)
    transcript = framed(recorded("success", 0.5), "feature/task-5-trader")
    name, _ = await command(stack, PR, "/code 5 --service trader", pr=True)

    async def halfway() -> bool:
        run = await run_in_phase(api, name, "Running")
        return bool(run and 6 <= (run["status"].get("progress") or {}).get("lines", 0) < 15)

    await eventually(halfway, within=20, what="the run halfway through its transcript")
    if interruption == "controller restart":
        await stack.stop_controller()
        await asyncio.sleep(1.0)  # the agent goes on printing
        stack.start_controller()
    elif interruption == "apiserver restart":  # the leader loses its Lease too, and starts over
        await stack.kube.stop()
        await asyncio.sleep(1.0)
        await stack.kube.start()
    else:  # the same follower opens the stream again from sinceTime
        for _ in range(3):
            stack.kube.logs.interrupt()
            await asyncio.sleep(0.7)

    text = await eventually(lambda: finished_check_text(stack, name), within=30, what="the final check run")
    assert tail_of(text) == expected_activity(transcript)  # each line once, in order, none missing
    run = await eventually(lambda: run_in_phase(api, name, "Succeeded"))
    assert run["status"]["progress"]["lines"] == len(transcript)
    assert run["status"]["progress"]["turns"] == 15
    versions = checklists(comment_bodies(stack))
    assert versions == sorted(versions, key=lambda items: sum("✅" in item for item in items))  # never back
    assert len(bot_comments(stack, PR)) == 1


async def test_progress_edits_keep_to_the_throttle_and_skip_repeats() -> None:
    interval = 2.0
    async with (
        running_stack(comment_edit_seconds=interval, progress_seconds=0.5) as stack,
        await api_client_for(stack) as api,
    ):
        stack.default_outcome = lambda job: JobOutcome(transcript=flood(lines_per_second=100, seconds=8))
        name, _ = await command(stack, 5, "/code 5 --service trader")
        await eventually(lambda: run_in_phase(api, name, "Succeeded"), within=30, what="Succeeded")
        await eventually(lambda: _calm(stack), what="the reporter to finish")
    edits = [
        (call.at, call.request_json["body"])
        for call in stack.gh.calls
        if call.method == "PATCH" and "/issues/comments/" in call.path
    ]
    assert len(edits) >= 3  # the checklist moved on while the agent worked
    bodies = [body for _, body in edits]
    assert all(a != b for a, b in itertools.pairwise(bodies))  # no edit without a visible change
    running = [at for at, body in edits if "is **running**" in body and "**Result:**" not in body]
    gaps = [b - a for a, b in itertools.pairwise(running)]
    assert gaps and min(gaps) >= interval - 0.1  # progress alone: at most one edit per interval

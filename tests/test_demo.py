"""The demo plays the whole flow and judges it; these tests judge the demo by the state it leaves."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from bot.controller import RUN_KINDS
from bot.demo import Demo, demo_outcome
from bot.kube import Kube, api_client
from bot.sandbox.stack import NAMESPACE, running_stack
from bot.sandbox.story import Printer


def test_demo_command_exits_zero_and_shows_the_pull_request(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--no-color", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"https://github\.com/demo-org/trader/pull/\d+", done.stdout)
    assert re.search(r"\*\*Todos:\*\* \d/3 done · \d+ turns? so far", done.stdout)  # while the agent works
    assert "**Result:** ✅ success · 15 turns · 2.4 s · $0.10" in done.stdout  # and its cost at the end
    assert re.search(
        r"the run's page .*: http://127\.0\.0\.1:\d+/runs/orchestrator/code-5-trader-\w+", done.stdout
    )
    assert (tmp_path / "runs.sqlite3").is_file()  # the transcripts, kept
    assert "\033[" not in done.stdout  # plain text when asked (and when not a terminal)
    assert (tmp_path / "kubeconfig").is_file()
    assert (tmp_path / "orchestrator-bot.log").stat().st_size > 0


async def test_the_demo_leaves_the_state_it_claims() -> None:
    async with running_stack() as stack, api_client(stack.kube.kubeconfig_path) as api:
        stack.default_outcome = demo_outcome
        demo = Demo(stack, Printer(io.StringIO(), colour=False))
        assert await demo.play()
        kube = Kube(api)
        phases = {
            (run["kind"], run["metadata"]["name"]): run["status"]["phase"]
            for kind in RUN_KINDS
            for run in await kube.list_runs(kind, NAMESPACE)
        }
        assert sorted(phases.values()) == ["Cancelled", "Succeeded", "Succeeded", "Succeeded"]
        heads = sorted(pull["head"]["ref"] for pull in stack.gh.pulls(stack.scene.repo))
        assert "feature/task-5-trader" in heads
        assert any(head.startswith("docs/") for head in heads)
        [check] = stack.gh.check_runs(stack.scene.repo)
        assert check["conclusion"] == "success"


async def test_the_demo_fails_when_the_product_misbehaves() -> None:
    async with running_stack() as stack:
        stack.default_outcome = demo_outcome
        stack.gh.set_permission(stack.scene.repo, "alice", "read")  # alice can no longer start runs
        out = io.StringIO()
        demo = Demo(stack, Printer(out, colour=False))
        assert not await demo.play()
        assert any(not check.ok for check in demo.checks)

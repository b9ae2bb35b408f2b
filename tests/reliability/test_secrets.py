"""Key material never leaves where it belongs. `serve` and `controller` run as real processes through
a day's worth of events — accepted, refused, malformed and forged commands, a failing Job, GitHub
and Kubernetes failures — and then every place a secret could leak to is searched: both processes' logs,
every comment, check run and pull request on GitHub, every answer to a delivery, `/metrics` and `/readyz`,
and every run, ConfigMap and Job in the cluster (specs, annotations, status, rendered files).

Searched for: the App's private key (whole, and each line of its body), the webhook secret, every
installation token GitHub issued, anything shaped like a JWT, the users' SSH private keys and the
Anthropic API key (which must stay inside their Kubernetes Secrets: a Job only references them)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client

from bot.sandbox.deliveries import send_webhook
from bot.sandbox.github import Fault
from bot.sandbox.kube import JobOutcome
from bot.sandbox.processes import BotProcess, stack_environment
from bot.sandbox.stack import NAMESPACE, USERS_WITH_SECRETS, WEBHOOK_SECRET, Stack, agent_pushes_a_branch
from tests.flows.conftest import eventually

from .forged import forgeries, json_body, send, send_all
from .observe import all_jobs, all_runs

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
API_KEY = "sk-ant-demo-not-a-real-key"  # the stack's anthropic-api-key Secret


def secrets_of(stack: Stack) -> dict[str, str]:
    """Every secret value, by a name for the failure message."""
    found = {"webhook secret": WEBHOOK_SECRET, "Anthropic API key": API_KEY}
    pem = stack.gh.private_key_pem
    found["App private key"] = pem.strip()
    for number, line in enumerate(pem.strip().splitlines()[1:-1]):
        if len(line) >= 40:
            found[f"App private key line {number}"] = line
    for number, token in enumerate(stack.gh.state.tokens):
        found[f"installation token {number}"] = token
    for login in USERS_WITH_SECRETS:
        found[f"SSH private key of {login}"] = f"demo private key of {login}"
    return found


def fail_docs_runs(job: dict[str, Any]) -> JobOutcome:
    """Whenever its Job starts: a docs run fails, a code run pushes its branch."""
    if job["metadata"]["labels"].get("task-type") == "docs":
        return JobOutcome(succeeded=False, message="tests failed", run_seconds=0.2)
    return agent_pushes_a_branch(job)


def leaks(secrets: dict[str, str], where: str, text: str) -> list[str]:
    found = [f"{name} in {where}" for name, value in secrets.items() if value in text]
    # JSON and YAML escape newlines; a key could also travel base64-encoded in a Secret-like object.
    found += [
        f"{name} (escaped) in {where}" for name, value in secrets.items() if json.dumps(value)[1:-1] in text
    ]
    found += [f"a JWT in {where}" for _ in JWT.findall(text)]
    return found


async def test_no_key_material_reaches_logs_github_answers_metrics_or_the_cluster(
    stack: Stack,
    kube_api: client.ApiClient,
    processes: list[BotProcess],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    stack.default_outcome = fail_docs_runs
    env = stack_environment(stack, ORCHESTRATOR_LOG_LEVEL="DEBUG")
    serve = BotProcess.serve(env, tmp_path / "serve.log")
    controller = BotProcess.controller(env, tmp_path / "controller.log", "only")
    processes.extend([serve, controller])
    serve.start()
    controller.start()
    await serve.wait_ready(session)
    stack.gh.webhook_url = serve.webhook_url
    answers: list[str] = []

    async def comment(issue: int, user: str, body: str, pr: bool = False) -> None:
        record = await stack.gh.deliver(
            "issue_comment", stack.comment_payload(issue, user, body, on_pull_request=pr)
        )
        answers.append(record.response_body)

    # Accepted: a code run from a PR that succeeds, a docs run from an issue whose Job fails.
    await comment(7, "alice", "/code 5 --service trader", pr=True)
    await comment(5, "carol", "/docs")
    # Refused and malformed: replies go out.
    stack.gh.set_permission(stack.scene.repo, "frank", "write")
    for user, body in (
        ("bob", "/code 5 --service trader"),
        ("frank", "/code 5 --service trader"),
        ("alice", "/code five --service trader"),
        ("alice", "/help"),
    ):
        await comment(5, user, body)
    # GitHub failing: retried, then given up on (an error the webhook answers 500 to).
    stack.gh.faults.add(
        Fault(method="POST", path_pattern=r"/app/installations/\d+/access_tokens", status=502, times=1)
    )
    stack.gh.faults.add(Fault(path_pattern=r"/repos/.*/collaborators/.*/permission", status=401, times=1))
    await comment(5, "erin", "/code 6 --service trader")
    # Kubernetes down: 503.
    await stack.kube.stop()
    await comment(5, "alice", "/code 7 --service trader")
    await stack.kube.start()
    # Forged and malformed deliveries.
    real = stack.comment_payload(5, "alice", "/code 8 --service trader")
    table = [f for f in forgeries(json_body(real), WEBHOOK_SECRET, other_body=b"{}") if "MiB" not in f.id]
    assert await send_all(session, serve.webhook_url, table) == []
    for forgery in table[:5]:
        answers.append((await send(session, serve.webhook_url, forgery))[1])

    phases: dict[str, str | None] = {}
    pulls: list[str] = []

    async def settled() -> bool:
        phases.clear()
        phases.update(
            {r["metadata"]["name"]: (r.get("status") or {}).get("phase") for r in await all_runs(kube_api)}
        )
        pulls[:] = [p["head"]["ref"] for p in stack.gh.pulls(stack.scene.repo)]
        finished = all(phase in ("Succeeded", "Failed") for phase in phases.values())
        return len(phases) >= 2 and finished and "feature/task-5-trader" in pulls

    try:
        await eventually(settled, within=45, what="the runs finished and were reported")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; runs {phases}, PRs {pulls}; the processes' logs are in {tmp_path}"
        ) from None
    _, text = await send_webhook(
        session, serve.webhook_url, "ping", {"zen": "x"}, WEBHOOK_SECRET, str(uuid.uuid4())
    )
    answers.append(text)
    places: dict[str, str] = {
        "serve log": serve.logs(),
        "controller log": controller.logs(),
        "answers to deliveries": "\n".join(answers),
    }
    for path in ("/metrics", "/readyz", "/healthz"):
        async with session.get(serve.base_url + path) as response:
            places[f"serve {path}"] = await response.text()
    for issue in (5, 7):
        places[f"comments on #{issue}"] = json.dumps(stack.gh.comments(stack.scene.repo, issue))
    places["check runs"] = json.dumps(stack.gh.check_runs(stack.scene.repo))
    places["pull requests"] = json.dumps(stack.gh.pulls(stack.scene.repo))
    places["everything posted to GitHub"] = json.dumps([c.request_json for c in stack.gh.calls], default=str)
    places["runs"] = json.dumps(await all_runs(kube_api))
    places["Jobs"] = json.dumps(await all_jobs(kube_api))
    configmaps = await client.CoreV1Api(kube_api).list_namespaced_config_map(NAMESPACE)
    places["ConfigMaps"] = json.dumps(kube_api.sanitize_for_serialization(configmaps))

    secrets = secrets_of(stack)
    assert len([name for name in secrets if name.startswith("installation token")]) >= 2
    found = [leak for where, text in places.items() for leak in leaks(secrets, where, text)]
    assert found == []
    # Nothing even tried: the log redaction (the last line of defence) never had to act.
    assert "[redacted]" not in places["serve log"] + places["controller log"]
    # The scenario did what it says: the logs are not empty, and errors were logged.
    assert '"level": "warning"' in places["serve log"] and '"level": "error"' in places["serve log"]
    assert "ANTHROPIC_API_KEY" in places["Jobs"] and "github-ssh-alice" in places["Jobs"]

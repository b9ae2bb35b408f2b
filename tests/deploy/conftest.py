"""The Helm chart rendered by the real Helm engine (helm-python-sdk), with its default values and with
tests/deploy/values-all.yaml (every option on), plus the helpers the deployment tests share."""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib.util
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import helm_python
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.sandbox.stack import running_stack
from tests.flows.conftest import eventually

from .flows import drive_every_path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "orchestrator-bot"
VALUES_ALL = Path(__file__).with_name("values-all.yaml")
RELEASE = "orchestrator-bot"
NAMESPACE = "orchestrator"
Obj = dict[str, Any]


def generate_deploy() -> ModuleType:
    """scripts/generate_deploy.py as a module (scripts/ is not a package)."""
    if "generate_deploy" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "generate_deploy", ROOT / "scripts" / "generate_deploy.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["generate_deploy"] = module
        spec.loader.exec_module(module)
    return sys.modules["generate_deploy"]


@functools.cache
def throwaway_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def values_all() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(VALUES_ALL.read_text())
    values["github"]["privateKey"] = throwaway_private_key()
    return values


def render_files(values: dict[str, Any] | None = None, chart_dir: Path = CHART) -> dict[str, str]:
    """{template path: rendered text}, as `helm template` would print them."""
    with helm_python.Chart.load(str(chart_dir)) as chart:
        return dict(chart.render(values or {}, name=RELEASE, namespace=NAMESPACE, is_install=True))


def render(values: dict[str, Any] | None = None, chart_dir: Path = CHART) -> list[Obj]:
    objects: list[Obj] = []
    for path, text in sorted(render_files(values, chart_dir).items()):
        if not path.endswith(".txt"):
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


@functools.cache
def _rendered(which: str) -> tuple[Obj, ...]:
    return tuple(render(values_all() if which == "all" else None))


def rendered(which: str) -> list[Obj]:
    """The chart's objects for "default" or "all" values (rendered once; callers get a copy)."""
    return copy.deepcopy(list(_rendered(which)))


def find(objects: list[Obj], kind: str, name: str | None = None, *, suffix: str = "") -> Obj:
    matches = [
        o
        for o in objects
        if o["kind"] == kind
        and (name is None or o["metadata"]["name"] == name)
        and o["metadata"]["name"].endswith(suffix)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or suffix!r}, found {len(matches)}"
    return matches[0]


def container(deployment: Obj) -> Obj:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    result: Obj = only
    return result


@pytest.fixture(params=["default", "all"])
def objects(request: pytest.FixtureRequest) -> list[Obj]:
    """The rendered chart, once with default values and once with every option on."""
    return rendered(request.param)


@pytest.fixture
def chart_copy(tmp_path: Path) -> Iterator[Path]:
    """A scratch copy of the chart, for tests that change a file in it."""
    target = tmp_path / CHART.name
    shutil.copytree(CHART, target)
    yield target


# --- one recorded run of every flow, shared by the RBAC and App manifest tests -------------------


@dataclass(frozen=True)
class KubeCall:
    """One request the bot made to the Kubernetes API, in RBAC's terms."""

    role: str
    group: str
    resource: str
    """With the subresource: `coderuns/status`."""
    verb: str
    name: str


@dataclass(frozen=True)
class Recording:
    kube: frozenset[KubeCall]
    github_operations: frozenset[str]
    """GitHub's operation ids (`checks/create`) the bot called."""


EVENTUAL_OPERATIONS = {
    "reactions/create-for-issue-comment",
    "issues/update-comment",
    "checks/update",
    "pulls/create",
}


def role_of(user_agent: str) -> str | None:
    """bot/roles.py names each role in its User-Agent; test clients are not the bot."""
    if user_agent.startswith("orchestrator-bot-serve"):
        return "webhook"
    if user_agent.startswith("orchestrator-bot-controller/"):
        return "controller"
    return None


async def _record() -> Recording:
    async with running_stack(controller=True) as stack:
        await drive_every_path(stack)

        async def settled() -> bool:
            # What happens on timers rather than in answer to a step: the Lease renewal and the
            # reporter's last writes.
            renewed = any(r.resource == "leases" and r.verb == "update" for r in stack.kube.requests)
            operations = {call.operation_id for call in stack.gh.calls}
            return renewed and operations >= EVENTUAL_OPERATIONS

        await eventually(settled, what="the Lease renewal and the reporter's writes")
    calls = set()
    for request in stack.kube.requests:  # complete once the stack is down: watches end then
        role = role_of(request.user_agent)
        if role is None or request.verb is None or request.resource is None:
            continue
        resource = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
        calls.add(KubeCall(role, request.group or "", resource, request.verb, request.name))
    operations = frozenset(call.operation_id for call in stack.gh.calls if call.operation_id)
    return Recording(frozenset(calls), operations)


@pytest.fixture(scope="session")
def recording() -> Recording:
    """Every Kubernetes and GitHub call of one run through every flow (tests/deploy/flows.py)."""
    return asyncio.run(_record())

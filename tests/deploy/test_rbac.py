"""The chart's Roles grant exactly what the code calls: every Kubernetes request recorded from a run of
every flow (tests/deploy/flows.py, against the local Kubernetes API) is allowed under the RBAC rules of
its role, and every grant is used by some request, apart from the allowance documented below."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.core.doctor import ROLE_ACCESS

from .conftest import KubeCall, Obj, Recording, find, rendered

RUN_RESOURCES = ("coderuns", "docsruns")
# Names make no difference to these verbs: RBAC cannot limit them by resourceNames.
UNNAMED_VERBS = {"create", "list", "watch", "deletecollection"}
# Grants that no request shows, and why they are needed anyway.
ALLOWANCE = {
    ("controller", "orchestrator.platform", f"{plural}/finalizers", "update"): (
        "the Job, ConfigMap and PVC carry ownerReferences with blockOwnerDeletion; clusters running the "
        "OwnerReferencesPermissionEnforcement admission plugin (OpenShift, hardened clusters) refuse them "
        "unless the creator may update the owner's finalizers"
    )
    for plural in RUN_RESOURCES
}


@dataclass(frozen=True)
class Grant:
    role: str
    group: str
    resource: str
    verb: str
    name: str | None
    """None: any name."""


def grants(objects: list[Obj], role: str) -> set[Grant]:
    out = set()
    for rule in find(objects, "Role", suffix=f"-{role}")["rules"]:
        names = rule.get("resourceNames") or [None]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.update(Grant(role, group, resource, verb, name) for name in names)
    return out


def allows(grant: Grant, call: KubeCall) -> bool:
    """The RBAC authorizer's match of one rule against one request (no wildcards are used here)."""
    if (grant.role, grant.group, grant.resource, grant.verb) != (
        call.role,
        call.group,
        call.resource,
        call.verb,
    ):
        return False
    return grant.name is None or (call.verb not in UNNAMED_VERBS and grant.name == call.name)


def used(grant: Grant, calls: frozenset[KubeCall]) -> bool:
    if any(allows(grant, call) for call in calls):
        return True
    # bot/kube.py makes each run call with the kind as a parameter: one code path serves both kinds,
    # so a request on one run kind stands for the same request on the other.
    base, _, sub = grant.resource.partition("/")
    if base in RUN_RESOURCES:
        other = RUN_RESOURCES[1 - RUN_RESOURCES.index(base)]
        twin = Grant(grant.role, grant.group, f"{other}/{sub}" if sub else other, grant.verb, grant.name)
        return any(allows(twin, call) for call in calls)
    return False


@pytest.mark.parametrize("which", ["default", "all"])
@pytest.mark.parametrize("role", ["webhook", "controller"])
def test_every_call_the_role_makes_is_granted(recording: Recording, which: str, role: str) -> None:
    granted = grants(rendered(which), role)
    denied = sorted(
        (c.verb, c.group, c.resource, c.name)
        for c in recording.kube
        if c.role == role and not any(allows(g, c) for g in granted)
    )
    assert denied == []


@pytest.mark.parametrize("role", ["webhook", "controller"])
def test_nothing_is_granted_that_no_call_uses(recording: Recording, role: str) -> None:
    unused = sorted(
        (g.verb, g.group, g.resource, g.name or "*")
        for g in grants(rendered("default"), role)
        if not used(g, recording.kube) and (g.role, g.group, g.resource, g.verb) not in ALLOWANCE
    )
    assert unused == []


def test_the_recording_covers_both_roles_both_run_kinds_and_the_lease(recording: Recording) -> None:
    seen = {(c.role, c.resource, c.verb) for c in recording.kube}
    assert ("webhook", "coderuns", "create") in seen
    assert ("webhook", "docsruns", "create") in seen
    assert ("controller", "coderuns/status", "patch") in seen
    assert ("controller", "docsruns/status", "patch") in seen
    assert ("controller", "leases", "update") in seen  # the Lease was renewed, not only taken
    assert ("controller", "jobs", "delete") in seen  # the cancel
    assert ("controller", "pods/log", "get") in seen  # the log follower
    assert ("controller", "pods", "watch") in seen


def test_the_webhook_cannot_touch_jobs_and_the_controller_cannot_read_secrets() -> None:
    webhook = {g.resource for g in grants(rendered("default"), "webhook")}
    controller = {g.resource for g in grants(rendered("default"), "controller")}
    assert "jobs" not in webhook
    assert "secrets" not in controller


def test_extra_controller_rules_are_appended() -> None:
    extra = grants(rendered("all"), "controller") - grants(rendered("default"), "controller")
    assert {(g.resource, g.verb) for g in extra} == {
        ("events", "create"),
        ("events", "patch"),
    }


@pytest.mark.parametrize("role", ["webhook", "controller"])
def test_doctor_asks_for_exactly_what_the_chart_grants(role: str) -> None:
    """`orchestrator-bot doctor` asks one access review per grant of the chart's Role (default values)."""
    asked = {Grant(role, a.group, a.resource, a.verb, a.name or None) for a in ROLE_ACCESS[role]}
    assert asked == grants(rendered("default"), role)

"""The level-based reconcile: observed run + Job -> actions and status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.jobs import job_manifest, pvc_name
from bot.core.reconcile import (
    CANCEL_ANNOTATION,
    AgentResult,
    DeleteJob,
    EnsureChildren,
    Observed,
    Plan,
    RequeueAfter,
    UpdateStatus,
    agent_result,
    job_essentials,
    job_state,
    orphan_slot,
    reconcile,
    run_essentials,
    slot,
)
from bot.core.schedule import Admission
from bot.core.taskconfig import CleanupConfig, TaskConfig

from .test_render import code_run as render_code_run

REPOSITORY_HTML_URL = "orchestrator.platform/repository-html-url"
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
CLEANUP = CleanupConfig(succeeded_ttl_seconds=600, failed_ttl_seconds=86400)


def code_run(
    status: dict[str, Any] | None = None, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    run: dict[str, Any] = {
        "apiVersion": "orchestrator.platform/v1",
        "kind": "CodeRun",
        "metadata": {"name": "code-5-trader-0123456789", "namespace": "ns", "annotations": annotations or {}},
        "spec": {"taskId": 5, "service": "trader", "contextVersion": 2},
    }
    if status is not None:
        run["status"] = status
    return run


def job(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "code-5-trader-0123456789"}, "status": status}


def condition(
    kind: str, reason: str | None = None, message: str | None = None, at: datetime = NOW
) -> dict[str, Any]:
    found = {"type": kind, "status": "True", "lastTransitionTime": at.isoformat()}
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found


def plan_for(run: dict[str, Any], observed_job: dict[str, Any] | None, message: str | None = None) -> Plan:
    return reconcile(Observed(run, observed_job, message, NOW), CLEANUP, 3600)


def status_of(plan: Plan) -> dict[str, Any]:
    [update] = [action for action in plan.actions if isinstance(action, UpdateStatus)]
    return update.status


def apply(run: dict[str, Any], plan: Plan) -> dict[str, Any]:
    updates = [action for action in plan.actions if isinstance(action, UpdateStatus)]
    return {**run, "status": updates[0].status} if updates else run


def test_new_run_gets_its_children_and_pending() -> None:
    plan = plan_for(code_run(), None)
    assert EnsureChildren() in plan.actions
    status = status_of(plan)
    assert status["phase"] == "Pending"
    assert status["jobName"] == "code-5-trader-0123456789"
    assert status["configmapName"] == "code-5-trader-0123456789-files"
    assert (status["contextVersion"], status["retryCount"]) == (2, 1)
    assert status["lastUpdate"] == "2026-11-25T12:00:00Z"
    assert status["conditions"][-1]["type"] == "Pending"


def test_reconciling_twice_changes_nothing_more() -> None:
    run = apply(code_run(), plan_for(code_run(), None))
    again = plan_for(run, job())
    assert not [action for action in again.actions if isinstance(action, UpdateStatus)]
    assert EnsureChildren() not in again.actions


def test_pending_run_whose_job_is_missing_gets_it_again_never_a_second_job_name() -> None:
    run = apply(code_run(), plan_for(code_run(), None))
    assert EnsureChildren() in plan_for(run, None).actions


def test_active_job_makes_the_run_running() -> None:
    run = apply(code_run(), plan_for(code_run(), None))
    status = status_of(plan_for(run, job(active=1, startTime=NOW.isoformat())))
    assert status["phase"] == "Running"
    assert [c["type"] for c in status["conditions"]] == ["Pending", "Running"]


def test_succeeded_job_records_the_agent_result() -> None:
    run = code_run({"phase": "Running", "jobName": "x"}, {REPOSITORY_HTML_URL: "https://github.com/o/r"})
    result = json.dumps(
        {"branch": "feature/task-5-trader", "pullRequestUrl": "https://github.com/o/r/pull/9"}
    )
    status = status_of(plan_for(run, job(succeeded=1, conditions=[condition("Complete")]), result))
    assert status["phase"] == "Succeeded"
    assert status["branch"] == "feature/task-5-trader"
    assert status["pullRequestUrl"] == "https://github.com/o/r/pull/9"
    assert status["message"] == "The agent finished and pushed `feature/task-5-trader`."


def test_success_criteria_met_counts_as_success_before_complete() -> None:
    run = code_run({"phase": "Running"})
    assert status_of(plan_for(run, job(conditions=[condition("SuccessCriteriaMet")])))["phase"] == "Succeeded"


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        pytest.param(
            [condition("FailureTarget", "DeadlineExceeded"), condition("Failed", "DeadlineExceeded")],
            "The agent did not finish within its deadline (3600 s) and was stopped.",
            id="deadline",
        ),
        pytest.param(
            [condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")],
            "The agent exited with an error. Job has reached the specified backoff limit",
            id="exit code",
        ),
    ],
)
def test_failed_job_fails_the_run_with_the_reason(conditions: list[dict[str, Any]], message: str) -> None:
    status = status_of(plan_for(code_run({"phase": "Running"}), job(failed=1, conditions=conditions)))
    assert status["phase"] == "Failed"
    assert status["message"] == message


def test_finished_job_is_kept_until_its_ttl_then_deleted() -> None:
    finished = job(
        succeeded=1,
        completionTime=(NOW - timedelta(seconds=100)).isoformat(),
        conditions=[condition("Complete")],
    )
    run = code_run(
        {"phase": "Succeeded", "jobName": "x", "configmapName": "y", "contextVersion": 2, "retryCount": 1}
    )
    plan = plan_for(run, finished)
    assert plan.actions == [RequeueAfter(500.0)]
    old = job(
        succeeded=1,
        completionTime=(NOW - timedelta(seconds=601)).isoformat(),
        conditions=[condition("Complete")],
    )
    assert [type(a) for a in plan_for(run, old).actions] == [DeleteJob]


def test_finished_run_keeps_its_status_when_its_job_is_gone() -> None:
    run = code_run({"phase": "Succeeded", "jobName": "x", "contextVersion": 2, "retryCount": 1})
    assert plan_for(run, None).actions == []


def test_cancel_request_deletes_the_job_and_cancels_the_run() -> None:
    run = code_run({"phase": "Running"}, {CANCEL_ANNOTATION: "alice"})
    plan = plan_for(run, job(active=1))
    assert DeleteJob("code-5-trader-0123456789", "cancelled by alice") in plan.actions
    status = status_of(plan)
    assert status["phase"] == "Cancelled"
    assert status["message"] == "Cancelled by @alice."


def test_cancel_before_the_job_exists_creates_nothing() -> None:
    plan = plan_for(code_run(None, {CANCEL_ANNOTATION: "alice"}), None)
    assert EnsureChildren() not in plan.actions
    assert status_of(plan)["phase"] == "Cancelled"


def test_finished_runs_ignore_a_late_cancel() -> None:
    run = code_run({"phase": "Succeeded", "contextVersion": 2, "retryCount": 1}, {CANCEL_ANNOTATION: "alice"})
    assert plan_for(run, None).actions == []


def test_running_run_whose_job_vanished_fails_instead_of_running_twice() -> None:
    plan = plan_for(code_run({"phase": "Running", "jobName": "code-5-trader-0123456789"}), None)
    assert EnsureChildren() not in plan.actions
    assert status_of(plan)["message"] == "The Job was deleted before it finished."


def test_run_being_deleted_is_left_to_owner_references() -> None:
    run = code_run()
    run["metadata"]["deletionTimestamp"] = NOW.isoformat()
    assert plan_for(run, None).actions == []


def test_conditions_are_bounded() -> None:
    status: dict[str, Any] = {"phase": "Pending", "conditions": [condition("Pending")] * 20}
    assert len(status_of(plan_for(code_run(status), job(active=1)))["conditions"]) == 10


OWN = "https://github.com/demo-org/trader"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            f'{{"branch": "b", "commit": "c", "changed": true, "sessionId": "s", "pullRequestUrl": "{OWN}/pull/1"}}',
            AgentResult(
                {"branch": "b", "commit": "c", "sessionId": "s", "pullRequestUrl": f"{OWN}/pull/1"}, True
            ),
            id="full",
        ),
        pytest.param(
            '{"branch": "b", "pullRequestUrl": "javascript:alert(1)"}',
            AgentResult({"branch": "b"}),
            id="non-https URL dropped",
        ),
        pytest.param(
            '{"branch": "b", "pullRequestUrl": "https://evil.example/login/github/oauth"}',
            AgentResult({"branch": "b"}),
            id="another host dropped",
        ),
        pytest.param(
            '{"branch": "b", "pullRequestUrl": "https://github.com/mallory/tools/pull/1"}',
            AgentResult({"branch": "b"}),
            id="another repository's pull request dropped",
        ),
        pytest.param(
            '{"error": "the agent failed: API Error: 500", "denials": {"Bash": 12, "Edit": 0, "X": "many"}}',
            AgentResult(error="the agent failed: API Error: 500", denials={"Bash": 12}),
            id="error and denials",
        ),
        pytest.param(
            '{"error": "   ", "changed": "no"}', AgentResult(), id="blank error, non-boolean changed"
        ),
        pytest.param('{"error": "' + "x" * 900 + '"}', AgentResult(error="x" * 500), id="long error cut"),
        pytest.param('{"denials": {"Bash": true}}', AgentResult(), id="boolean count"),
        pytest.param('{"branch": 5}', AgentResult(), id="wrong type"),
        pytest.param("not json", AgentResult(), id="not JSON"),
        pytest.param("[1]", AgentResult(), id="not an object"),
        pytest.param(None, AgentResult(), id="none"),
    ],
)
def test_agent_result_is_read_defensively(message: str | None, expected: AgentResult) -> None:
    assert agent_result(message, OWN) == expected


def test_a_pull_request_link_is_dropped_when_the_runs_repository_is_unknown() -> None:
    assert agent_result(f'{{"branch": "b", "pullRequestUrl": "{OWN}/pull/1"}}', None) == AgentResult(
        {"branch": "b"}
    )


def test_an_agent_link_to_another_host_does_not_reach_the_status() -> None:
    run = code_run({"phase": "Running", "jobName": "x"}, {REPOSITORY_HTML_URL: OWN})
    result = json.dumps({"branch": "feature/task-5-trader", "pullRequestUrl": "https://evil.example/pull/1"})
    status = status_of(plan_for(run, job(succeeded=1, conditions=[condition("Complete")]), result))
    assert status["phase"] == "Succeeded"
    assert "pullRequestUrl" not in status


def finished(
    message: dict[str, Any], *, failed: bool = False, reason: str = "BackoffLimitExceeded"
) -> dict[str, Any]:
    run = code_run({"phase": "Running", "jobName": "x"})
    observed = (
        job(failed=1, conditions=[condition("Failed", reason)])
        if failed
        else job(succeeded=1, conditions=[condition("Complete")])
    )
    return status_of(plan_for(run, observed, json.dumps(message)))


def test_the_session_and_commit_are_recorded() -> None:
    status = finished({"branch": "feature/x", "commit": "abc", "changed": True, "sessionId": "5f2e"})
    assert (status["phase"], status["sessionId"], status["commit"]) == ("Succeeded", "5f2e", "abc")


def test_an_agent_that_changed_nothing_says_so() -> None:
    status = finished({"commit": "abc", "changed": False, "sessionId": "s"})
    assert status["phase"] == "Succeeded"
    assert status["message"] == "The agent finished without changing anything: nothing to push."
    assert status["conditions"][-1]["reason"] == "NoChanges"
    assert "branch" not in status


def test_the_agent_error_is_the_failure_reason_and_the_saved_branch_is_named() -> None:
    status = finished(
        {"branch": "feature/x", "changed": True, "error": "the agent failed: API Error: 500 overloaded"},
        failed=True,
    )
    assert status["phase"] == "Failed"
    assert status["message"] == (
        "The agent failed: `API Error: 500 overloaded`. Its work so far is on `feature/x`."
    )


def test_what_the_agent_said_in_its_error_is_inert_markdown() -> None:
    status = finished({"error": "the agent failed: @org/team <img src=x> `x`"}, failed=True)
    assert status["message"] == "The agent failed: `` @\u200dorg/team <img src=x> `x` ``."


def test_an_error_fails_the_run_even_when_the_job_succeeded() -> None:
    status = finished({"error": "the agent used up its turns (error_max_turns)"})
    assert status["phase"] == "Failed"
    assert status["message"].startswith("The agent used up its turns")


def test_a_deadline_says_so_and_names_the_saved_branch() -> None:
    message = {
        "branch": "feature/x",
        "changed": True,
        "error": "stopped (SIGTERM: deadline or cancel) before the agent finished",
    }
    status = finished(message, failed=True, reason="DeadlineExceeded")
    assert status["message"] == (
        "The agent did not finish within its deadline (3600 s) and was stopped. Its work so far is on `feature/x`."
    )


def test_refused_tools_are_a_condition_and_part_of_the_message() -> None:
    status = finished({"branch": "feature/x", "changed": True, "denials": {"Read": 1, "Bash": 12}})
    note = "The agent was refused Bash 12\u00d7, Read 1\u00d7: check permissions.allow in task-controller-config."
    assert status["message"] == "The agent finished and pushed `feature/x`. " + note
    refused = [c for c in status["conditions"] if c["type"] == "ToolsRefused"]
    assert [(c["reason"], c["message"]) for c in refused] == [("PermissionDenied", note)]
    # A resync adds nothing.
    again = code_run(status)
    assert not [
        a
        for a in plan_for(again, job(succeeded=1, conditions=[condition("Complete")]), None).actions
        if isinstance(a, UpdateStatus)
    ]


def test_job_state_reads_counters_when_there_are_no_conditions() -> None:
    assert job_state(job())[0] == "pending"
    assert job_state(job(active=1))[0] == "running"
    assert job_state(job(failed=1))[0] == "failed"
    assert job_state(job(succeeded=1))[0] == "succeeded"
    assert job_state(None)[0] == "absent"


# --- the queue -------------------------------------------------------------------------------------


def queued_plan(admission: Admission, run: dict[str, Any] | None = None, max_queue: int = 86400) -> Plan:
    run = run or code_run()
    run["metadata"]["creationTimestamp"] = (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    return reconcile(Observed(run, None, None, NOW, admission), CLEANUP, 3600, max_queue)


@pytest.mark.parametrize(
    ("admission", "message"),
    [
        pytest.param(
            Admission(False, "workspace", "code-5-trader-aaaaaaaaaa", 2),
            "Waiting for run `code-5-trader-aaaaaaaaaa` to finish: one agent at a time works in a workspace"
            " (position 2 in line).",
            id="workspace",
        ),
        pytest.param(
            Admission(False, "maxActiveRuns", "x", 1),
            "Waiting for a free slot: as many agents run as maxActiveRuns allows (position 1 in line).",
            id="namespace limit",
        ),
        pytest.param(
            Admission(False, "maxActiveRunsPerUser", "x", 3),
            "Waiting: @alice already has as many agents running as maxActiveRunsPerUser allows"
            " (position 3 in line).",
            id="per-user limit",
        ),
    ],
)
def test_a_run_that_may_not_start_is_queued_and_says_for_what(admission: Admission, message: str) -> None:
    run = code_run()
    run["spec"]["githubUser"] = "alice"
    plan = queued_plan(admission, run)
    status = status_of(plan)
    assert (status["phase"], status["message"]) == ("Queued", message)
    assert EnsureChildren() not in plan.actions
    assert RequeueAfter(30.0) in plan.actions
    assert "jobName" not in status


def test_an_admitted_run_leaves_the_queue_for_its_job() -> None:
    queued = apply(code_run(), queued_plan(Admission(False, "workspace", "a", 1)))
    assert queued["status"]["waitingFor"] == "a"
    queued["metadata"]["creationTimestamp"] = NOW.isoformat()
    plan = reconcile(Observed(queued, None, None, NOW, Admission(True)), CLEANUP, 3600, 86400)
    assert EnsureChildren() in plan.actions
    status = status_of(plan)
    assert [c["type"] for c in status["conditions"]] == ["Queued", "Pending"]
    # The status is merge-patched: null removes the run it waited for.
    assert status["waitingFor"] is None


@pytest.mark.parametrize(
    ("before", "admission", "after"),
    [
        pytest.param(None, Admission(False, "workspace", "a", 1), "a", id="queued for a run"),
        pytest.param("a", Admission(False, "workspace", "b", 1), "b", id="another run took the workspace"),
        pytest.param(None, Admission(False, "maxActiveRuns", "a", 1), "absent", id="a limit names no run"),
        pytest.param("a", Admission(False, "maxActiveRuns", "a", 1), None, id="from a run to a limit"),
    ],
)
def test_a_queued_run_names_the_run_it_waits_for_only_while_it_does(
    before: str | None, admission: Admission, after: str | None
) -> None:
    run = code_run({"phase": "Queued", "message": "m", **({"waitingFor": before} if before else {})})
    status = status_of(queued_plan(admission, run))
    assert status.get("waitingFor", "absent") == after


def test_a_queued_run_unchanged_writes_no_status() -> None:
    for admission in (Admission(False, "workspace", "a", 1), Admission(False, "maxActiveRuns", "a", 1)):
        queued = apply(code_run(), queued_plan(admission))
        assert not [a for a in queued_plan(admission, queued).actions if isinstance(a, UpdateStatus)]


def test_a_run_queued_too_long_fails_and_says_so() -> None:
    status = status_of(queued_plan(Admission(False, "workspace", "a", 1), max_queue=60))
    assert status["phase"] == "Failed"
    assert status["message"] == "The run waited longer than 1 min for its turn and was not started."
    assert status["conditions"][-1]["reason"] == "QueueTimeout"


def test_cancelling_a_queued_run_never_makes_a_job() -> None:
    run = code_run({"phase": "Queued"}, {CANCEL_ANNOTATION: "alice"})
    plan = reconcile(
        Observed(run, None, None, NOW, Admission(False, "workspace", "a", 1)), CLEANUP, 3600, 86400
    )
    assert status_of(plan)["phase"] == "Cancelled"
    assert not [a for a in plan.actions if isinstance(a, EnsureChildren | DeleteJob)]


SPEC = {
    "taskId": 5,
    "service": "trader",
    "repositoryUrl": "git@github.com:demo-org/trader.git",
    "platformRepositoryUrl": "git@github.com:demo-org/trader.git",
    "branch": "main",
    "workingDirectory": ".",
    "model": "claude-sonnet-4-20250514",
    "githubUser": "Alice",
}


@pytest.mark.parametrize(
    ("status", "annotations", "observed_job", "state"),
    [
        pytest.param({}, {}, None, "waiting", id="new"),
        pytest.param({"phase": "Queued"}, {}, None, "waiting", id="queued"),
        pytest.param(
            {"phase": "Pending", "jobName": "x"}, {}, None, "waiting", id="admitted, Job not made yet"
        ),
        pytest.param({"phase": "Pending", "jobName": "x"}, {}, job(), "active", id="Job made"),
        pytest.param({"phase": "Running", "jobName": "x"}, {}, job(active=1), "active", id="running"),
        pytest.param({"phase": "Running", "jobName": "x"}, {}, job(succeeded=1), "finished", id="Job done"),
        pytest.param({"phase": "Running", "jobName": "x"}, {}, None, "finished", id="Job deleted"),
        pytest.param({"phase": "Succeeded"}, {}, job(succeeded=1), "finished", id="succeeded, Job kept"),
        pytest.param(
            {"phase": "Queued"}, {CANCEL_ANNOTATION: "bob"}, None, "finished", id="cancel requested"
        ),
    ],
)
def test_how_the_scheduler_sees_a_run(
    status: dict[str, Any], annotations: dict[str, str], observed_job: dict[str, Any] | None, state: str
) -> None:
    run = code_run(status, annotations)
    run["spec"] = SPEC
    run["metadata"]["creationTimestamp"] = "2026-12-03T10:00:00Z"
    seen = slot(run, observed_job, "user")
    assert seen.state == state
    # What the controller keeps of the two between watch events is enough to see the same.
    kept_job = job_essentials(observed_job) if observed_job is not None else None
    assert slot(run_essentials(run), kept_job, "user") == seen
    assert (seen.user, seen.created) == ("alice", "2026-12-03T10:00:00Z")
    assert seen.workspace is not None and seen.workspace.startswith("workspace-trader-")


def test_a_docs_run_holds_no_workspace() -> None:
    run = {
        "kind": "DocsRun",
        "metadata": {"name": "docs-1", "creationTimestamp": "t"},
        "spec": {"githubUser": "a"},
    }
    assert slot(run, None, "user").workspace is None


def test_an_orphaned_job_holds_its_workspace_until_it_is_over(task_config: TaskConfig) -> None:
    """A run deleted before its Job: the Job alone (as kept by the controller) still holds the
    workspace and counts for its user; another program's Job in the namespace counts for nothing."""
    run = render_code_run()
    made = job_manifest(run, task_config)
    made["metadata"]["creationTimestamp"] = "2026-12-03T10:00:00Z"
    kept = job_essentials({**made, "status": {"active": 1}})
    assert len(json.dumps(kept)) < len(json.dumps(made)) / 4
    assert kept["metadata"]["ownerReferences"] == made["metadata"]["ownerReferences"]
    held = orphan_slot(kept)
    assert held == orphan_slot({**made, "status": {"active": 1}})
    assert held is not None and held.state == "active"
    assert held.workspace == pvc_name(run, task_config)
    assert (held.name, held.user, held.created) == (made["metadata"]["name"], "alice", "2026-12-03T10:00:00Z")
    assert orphan_slot(job_essentials({**made, "status": {"succeeded": 1}})) is None
    foreign = {**made, "metadata": {**made["metadata"], "labels": {"app": "nightly-backup"}}}
    assert orphan_slot(job_essentials({**foreign, "status": {"active": 1}})) is None
    assert orphan_slot(job_essentials({**made, "status": {"conditions": [condition("Failed")]}})) is None

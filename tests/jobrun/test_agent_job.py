"""The agent Job, run for real with the shipped config: the real `claude` CLI (1.0.56) does scripted
work through its tools, and the run reports what the bot needs — or says why not."""

from __future__ import annotations

import pytest

from bot.core.jobs import pvc_name
from bot.core.reconcile import agent_result
from tests.deploy import agent_image
from tests.jobrun.conftest import code_run, docs_run, say, shipped_config, tool
from tests.jobrun.harness import World

CONFIG = shipped_config()
ORDERS = "/workspace/repository/services/trader/src/orders.py"
BRANCH = "feature/task-5-trader"
RUN_COMMIT_MESSAGE = "feat(task-5): trader work from run code-5-trader-8d1c0f4a2b"

TODOS = [
    {"id": "1", "content": "Read the task", "status": "completed", "priority": "high"},
    {"id": "2", "content": "Fix the rounding", "status": "in_progress", "priority": "high"},
]
# The CLI edits only files the agent has read in this session.
FIX_ROUNDING = [
    tool("Read", file_path=ORDERS),
    tool("Edit", file_path=ORDERS, old_string="int(", new_string="round("),
]
CODE_WORK = [
    {
        "content": [
            {"type": "text", "text": "Planning."},
            {"type": "tool_use", "name": "TodoWrite", "input": {"todos": TODOS}},
        ]
    },
    # Outside the working directory (services/trader): the repository root and the task documents.
    tool("Read", file_path="/workspace/repository/README.md"),
    tool("Read", file_path="/workspace/task/task.md"),
    tool("Bash", command="git log --oneline -1 && ls /workspace/task", description="Look around"),
    tool("Read", file_path=ORDERS),
    tool(
        "Edit",
        file_path=ORDERS,
        old_string="int(quantity * price * 100) / 100",
        new_string="round(quantity * price, 2)",
    ),
    tool("mcp__mcp-filesystem__ping"),
    tool(
        "Bash", command="git commit -qam 'fix(task-5): round totals to cents'", description="Commit the fix"
    ),
    # Left uncommitted: saved under the run's commit message.
    tool("Write", file_path="/workspace/repository/services/trader/NOTES.md", content="Rounding fixed.\n"),
    say("Fixed the rounding; notes in NOTES.md."),
]


def test_a_code_run_does_its_work_with_the_shipped_config(world: World) -> None:
    run = world.run_job(code_run(localTools="mcp-filesystem"), CONFIG, CODE_WORK)

    assert run.exit_code == 0, run.describe()
    assert run.refusals() == [], run.describe()
    assert ("mcp__mcp-filesystem__ping", False, '[{"type": "text", "text": "pong from mcp-filesystem"}]') in (
        run.tool_results()
    )
    assert world.commit_messages("demo-org/trader", BRANCH) == [
        RUN_COMMIT_MESSAGE,
        "fix(task-5): round totals to cents",
        "seed",
    ]
    assert "round(quantity * price, 2)" in world.show(
        "demo-org/trader", BRANCH, "services/trader/src/orders.py"
    )
    head = world.git("demo-org/trader", "rev-parse", BRANCH).strip()
    [init] = [line for line in run.transcript if line.get("subtype") == "init"]
    assert run.result == {"branch": BRANCH, "commit": head, "changed": True, "sessionId": init["session_id"]}
    # Every program the scripts ran (container.sh and the Stop hook) is one the agent image installs.
    assert {"git", "jq", "claude", "ssh-add", "tail", "realpath"} <= run.programs
    assert run.programs <= agent_image.programs(), run.programs - agent_image.programs()
    # What the bot makes of it.
    result = agent_result(run.termination_message)
    assert result.error is None and result.denials == {}
    assert result.status == {"branch": BRANCH, "commit": head, "sessionId": init["session_id"]}


def test_a_docs_run_reads_the_code_it_documents(world: World) -> None:
    turns = [
        tool("Read", file_path=ORDERS),
        tool(
            "Write", file_path="/workspace/repository/docs/orders.md", content="# Orders\n\n`total` rounds.\n"
        ),
        say("Documented the orders module."),
    ]
    run = world.run_job(docs_run(), CONFIG, turns)

    assert run.exit_code == 0, run.describe()
    assert run.refusals() == [], run.describe()
    branch = "docs/docs-3f2a9c1e7b"
    assert world.commit_messages("demo-org/trader", branch) == [
        "docs: documentation written by run docs-3f2a9c1e7b",
        "seed",
    ]
    assert world.show("demo-org/trader", branch, "docs/orders.md").startswith("# Orders")
    assert run.result["branch"] == branch
    assert run.result["changed"] is True
    assert run.result["sessionId"]
    assert run.programs <= agent_image.programs(), run.programs - agent_image.programs()


def test_a_docs_run_continues_the_pull_request_of_an_earlier_one_on_its_branch(world: World) -> None:
    """`/docs --continue` (or a review) on a docs pull request: the agent starts from that branch, is
    told what the earlier run left and what to do now, and its commit goes on top, to the same branch."""
    first_turns = [
        tool("Write", file_path="/workspace/repository/docs/orders.md", content="# Orders\n"),
        say("Documented the orders module."),
    ]
    first = world.run_job(docs_run(), CONFIG, first_turns)
    assert first.exit_code == 0, first.describe()
    branch = "docs/docs-3f2a9c1e7b"

    orders = "/workspace/repository/docs/orders.md"
    instructions = "Also say that totals are rounded to cents."
    continued = docs_run(
        name="docs-5b6c7d8e9f", sourceBranch=branch, workBranch=branch, promptModification=instructions
    )
    second = world.run_job(
        continued,
        CONFIG,
        [
            tool("Read", file_path=orders),  # the earlier run's page is there to read and edit
            tool(
                "Edit",
                file_path=orders,
                old_string="# Orders\n",
                new_string="# Orders\n\nTotals are rounded to cents.\n",
            ),
            say("Added the rounding."),
        ],
    )

    assert second.exit_code == 0, second.describe()
    assert second.refusals() == [], second.describe()
    assert f"continuing {branch}" in second.stdout
    [first_request, *_] = [request["body"] for request in second.requests if request["body"].get("tools")]
    prompt = str(first_request["messages"])
    assert instructions in prompt and "already holds documentation an earlier run wrote" in prompt
    assert world.commit_messages("demo-org/trader", branch) == [
        "docs: documentation written by run docs-5b6c7d8e9f",
        "docs: documentation written by run docs-3f2a9c1e7b",
        "seed",
    ]
    assert "Totals are rounded to cents." in world.show("demo-org/trader", branch, "docs/orders.md")
    assert "docs/docs-5b6c7d8e9f" not in world.branches("demo-org/trader")  # no second branch, no second PR
    head = world.git("demo-org/trader", "rev-parse", branch).strip()
    assert (second.result["branch"], second.result["commit"], second.result["changed"]) == (
        branch,
        head,
        True,
    )


def test_continue_session_resumes_in_the_same_workspace(world: World) -> None:
    first = world.run_job(
        code_run(),
        CONFIG,
        [*FIX_ROUNDING, say("First run done.")],
    )
    assert first.exit_code == 0, first.describe()
    memory = world.pvc(pvc_name(code_run(), CONFIG)) / "memory" / "services/trader" / "CLAUDE.md"
    memory.write_text(memory.read_text() + "\n- The first run learned this.\n")

    second_run = code_run(name="code-5-trader-0000000002", continueSession=True, contextVersion=2)
    second = world.run_job(
        second_run,
        CONFIG,
        [
            tool("Write", file_path="/workspace/repository/services/trader/CONTINUED.md", content="more\n"),
            say("Continued."),
        ],
    )

    assert second.exit_code == 0, second.describe()
    assert "keeping the memory of earlier runs" in second.stdout
    assert "continuing feature/task-5-trader as pushed by earlier runs" in second.stdout
    # --continue: the first main request carries the first run's conversation.
    main_requests = [request["body"] for request in second.requests if request["body"].get("tools")]
    history = str(main_requests[0]["messages"])
    assert "First run done." in history
    assert "The first run learned this." in str(main_requests[0])
    assert world.commit_messages("demo-org/trader", BRANCH) == [
        "feat(task-5): trader work from run code-5-trader-0000000002",
        RUN_COMMIT_MESSAGE,
        "seed",
    ]


def test_an_api_error_mid_run_fails_the_run_and_still_reports_its_branch(world: World) -> None:
    turns = [
        *FIX_ROUNDING,
        {"error": 500, "sticky": True},
    ]
    # The harness's one change to the Job's env: no minutes of retries against a fake that always fails.
    run = world.run_job(code_run(), CONFIG, turns, extra_env={"CLAUDE_CODE_MAX_RETRIES": "0"})

    assert run.exit_code == 1, run.describe()
    assert run.result["branch"] == BRANCH
    assert run.result["error"].startswith("the agent failed: API Error: 500")
    assert world.commit_messages("demo-org/trader", BRANCH) == [RUN_COMMIT_MESSAGE, "seed"]
    assert agent_result(run.termination_message).error == run.result["error"]


def test_an_agent_that_changes_nothing_pushes_no_branch(world: World) -> None:
    run = world.run_job(code_run(), CONFIG, [tool("Read", file_path=ORDERS), say("Nothing to change.")])

    assert run.exit_code == 0, run.describe()
    assert world.branches("demo-org/trader") == ["main"]
    assert "branch" not in run.result
    assert run.result["changed"] is False
    assert agent_result(run.termination_message).changed is False


def test_sigterm_mid_run_saves_and_reports_within_the_grace_period(world: World) -> None:
    turns = [*FIX_ROUNDING, {"hang": True}]
    run = world.run_job(code_run(), CONFIG, turns, stop_when_hanging=True)

    assert run.outcome["stopped_after"] is not None, run.describe()
    assert not run.outcome["killed"], run.describe()
    assert run.outcome["seconds"] - run.outcome["stopped_after"] < 20
    assert run.exit_code == 143, run.describe()
    assert run.result["branch"] == BRANCH
    assert run.result["error"] == "stopped (SIGTERM: deadline or cancel) before the agent finished"
    assert "round(" in world.show("demo-org/trader", BRANCH, "services/trader/src/orders.py")


def test_bash_star_grants_nothing_and_the_run_says_so(world: World) -> None:
    """The regression case of the shipped config before this fix: `Bash(*)` is refused by the config's
    validation now, so it is forced in here past it, to show what 1.0.56 makes of it."""
    old_rules = {
        "allow": ["Bash(*)", "Read(*)", "Write(*)", "Edit(*)", "MultiEdit(*)", "Glob(*)", "Grep(*)", "LS(*)"],
        "deny": [],
    }
    turns = [
        tool("Read", file_path="/workspace/repository/README.md"),
        # (1.0.56 lets a few read-only commands such as `git status` through without any rule.)
        tool("Bash", command="touch NOTES.md", description="Make notes"),
        tool("Bash", command="git commit -qam wip", description="Commit"),
        say("I could not run anything."),
    ]
    run = world.run_job(code_run(), CONFIG, turns, permissions=old_rules)

    assert [name for name, _ in run.refusals()] == ["Read", "Bash", "Bash"], run.describe()
    assert "Claude requested permissions to use Bash, but you haven't granted it yet." in run.refusals()[1][1]
    assert run.result["denials"] == {"Bash": 2, "Read": 1}
    assert agent_result(run.termination_message).denials == {"Bash": 2, "Read": 1}


@pytest.mark.parametrize("scope", ["user", "repository"])
def test_the_workspace_claim_is_where_the_run_keeps_its_clone(world: World, scope: str) -> None:
    config = CONFIG.model_copy(update={"workspace": CONFIG.workspace.model_copy(update={"scope": scope})})
    run = world.run_job(code_run(), config, [say("Looked.")])
    assert run.exit_code == 0, run.describe()
    claim = world.pvc(pvc_name(code_run(), config))
    assert (claim / "repository" / ".git").is_dir()
    assert sorted(p.name for p in claim.iterdir()) == ["memory", "repository", "sessions", "task"]

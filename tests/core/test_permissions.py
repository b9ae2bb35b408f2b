"""Tool permission rules as Claude Code 1.0.56 reads them: one row per form it accepts or misreads."""

from __future__ import annotations

import pytest

from bot.core.permissions import agent_rules, mcp_rule, rule_problem
from bot.core.taskconfig import TaskConfigError, parse_task_config

from .conftest import TASK_CONFIG_YAML

ACCEPTED = [
    "Bash",
    "Read",
    "Edit",
    "Write",
    "MultiEdit",
    "WebFetch",
    "Task",
    "TodoWrite",
    "Bash(npm test)",
    "Bash(npm test:*)",
    "Read(//etc/**)",
    "Read(~/.ssh/**)",
    "Edit(src/**)",
    "Edit(//**/.git/**)",
    "WebFetch(domain:docs.github.com)",
    "mcp__mcp-filesystem",
    "mcp__remote-tools__ping",
]


@pytest.mark.parametrize("rule", ACCEPTED)
def test_rules_that_mean_what_they_say(rule: str) -> None:
    assert rule_problem(rule) is None


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        pytest.param(
            "Bash(*)",
            "'Bash(*)' grants nothing in Claude Code 1.0.56 (it matches the literal '*'); write 'Bash' to cover the whole tool",
            id="Bash(*)",
        ),
        pytest.param(
            "Read(*)",
            "'Read(*)' grants nothing in Claude Code 1.0.56 (it matches the literal '*'); write 'Read' to cover the whole tool",
            id="Read(*)",
        ),
        pytest.param(
            "WebFetch(*)",
            "'WebFetch(*)' grants nothing in Claude Code 1.0.56 (it matches the literal '*'); write 'WebFetch' to cover the whole tool",
            id="WebFetch(*)",
        ),
        pytest.param(
            "Edit()",
            "'Edit()' grants nothing in Claude Code 1.0.56 (it matches the literal ''); write 'Edit' to cover the whole tool",
            id="empty pattern",
        ),
        pytest.param(
            "Bash(npm *)",
            "'Bash(npm *)': a Bash rule is an exact command or a prefix ending in ':*', e.g. 'Bash(npm test:*)'",
            id="Bash glob",
        ),
        pytest.param(
            "Bash(*:*)",
            "'Bash(*:*)': a Bash rule is an exact command or a prefix ending in ':*', e.g. 'Bash(npm test:*)'",
            id="Bash star prefix",
        ),
        pytest.param(
            "Write(src/**)",
            "'Write(src/**)' is never consulted: 1.0.56 judges writes by Edit rules; write 'Edit(src/**)'",
            id="Write pattern",
        ),
        pytest.param(
            "MultiEdit(src/**)",
            "'MultiEdit(src/**)' is never consulted: 1.0.56 judges writes by Edit rules; write 'Edit(src/**)'",
            id="MultiEdit pattern",
        ),
        pytest.param(
            "WebFetch(github.com)",
            "'WebFetch(github.com)': a WebFetch rule names a host, e.g. 'WebFetch(domain:example.com)'",
            id="WebFetch without domain:",
        ),
        pytest.param(
            "Grep(src/**)", "'Grep(src/**)': Grep rules take no pattern; write 'Grep'", id="Grep pattern"
        ),
        pytest.param(
            "mcp__x(ping)", "'mcp__x(ping)': MCP rules take no pattern; write 'mcp__x'", id="MCP pattern"
        ),
        pytest.param(
            "Bash(ls",
            "'Bash(ls' is not a rule: write a tool name, optionally followed by (pattern)",
            id="unbalanced",
        ),
    ],
)
def test_rules_the_cli_would_misread(rule: str, problem: str) -> None:
    assert rule_problem(rule) == problem


def test_an_unknown_tool_is_named_with_the_known_ones() -> None:
    problem = rule_problem("TodoRead")
    assert problem is not None
    assert problem.startswith("'TodoRead': Claude Code 1.0.56 has no tool 'TodoRead' (its tools: Bash, Edit,")


def test_the_config_refuses_misread_rules_with_what_to_write() -> None:
    with pytest.raises(TaskConfigError) as error:
        parse_task_config(TASK_CONFIG_YAML.replace('allow: ["Bash", "Read"]', 'allow: ["Bash(*)", "Read"]'))
    assert str(error.value) == (
        "config.yaml: permissions: rules Claude Code 1.0.56 would misread: 'Bash(*)' grants nothing in "
        "Claude Code 1.0.56 (it matches the literal '*'); write 'Bash' to cover the whole tool"
    )


@pytest.mark.parametrize(
    ("server", "rule"),
    [("mcp-filesystem", "mcp__mcp-filesystem"), ("@scope/tool.x", "mcp___scope_tool_x"), ("a:b", "mcp__a_b")],
)
def test_mcp_rules_use_the_cli_normalised_server_name(server: str, rule: str) -> None:
    assert mcp_rule(server) == rule


def test_agent_rules_add_mcp_servers_and_the_required_denials_once() -> None:
    allow, deny = agent_rules(["Bash", "mcp__x"], ["Bash(rm -rf /)", "Edit(//**/.git/**)"], ["x", "y"])
    assert allow == ["Bash", "mcp__x", "mcp__y"]
    assert deny == ["Edit(//**/.git/**)", "Bash(rm -rf /)"]

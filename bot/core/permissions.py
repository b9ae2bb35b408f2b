"""The agent's tool permission rules, as the Claude Code CLI in the agent image reads them.

Facts of `@anthropic-ai/claude-code` 1.0.56 (its cli.js, and runs of it against a local Messages API):
- `Tool` (no parentheses) allows or denies the whole tool, wherever it reads or writes.
- `Bash(...)` is an exact command, or a prefix when it ends in `:*`; anything else is a literal, so
  `Bash(*)` only ever matches the command `*`.
- `Read(...)` and `Edit(...)` take gitignore patterns; `//` starts an absolute path, `~/` the home
  directory, `/` the settings file's directory, anything else the working directory. Writes by
  Write, MultiEdit and NotebookEdit are judged by the `Edit(...)` rules only, so `Write(...)` and
  `MultiEdit(...)` patterns are never consulted.
- `WebFetch(...)` matches `domain:<host>`.
- MCP tools are named `mcp__<server>__<tool>`, the server's name with every character outside
  `[A-Za-z0-9_-]` replaced by `_`; `mcp__<server>` covers all of a server's tools.
A rule the CLI would read as something else than meant is a configuration error here, with the rule
to write instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CLI_VERSION = "1.0.56"
TOOLS = frozenset(
    {
        "Task",
        "Bash",
        "Glob",
        "Grep",
        "LS",
        "exit_plan_mode",
        "Read",
        "Edit",
        "MultiEdit",
        "Write",
        "NotebookRead",
        "NotebookEdit",
        "WebFetch",
        "TodoWrite",
        "WebSearch",
    }
)
"""The tools 1.0.56 offers (its `system/init` line lists them)."""
PATH_RULE_TOOLS = frozenset({"Read", "Edit"})
EDIT_ONLY_VIA_EDIT = frozenset({"Write", "MultiEdit", "NotebookEdit"})

REQUIRED_DENY = ("Edit(//**/.git/**)",)
"""Always denied, whatever the config says: the agent never edits git's own files, where a command
(core.fsmonitor, a hook) could be planted for a later git call."""

_RULE = re.compile(r"^(?P<tool>[A-Za-z_][A-Za-z0-9_-]*)(\((?P<content>.*)\))?$", re.DOTALL)
_MCP_NAME = re.compile(r"[^a-zA-Z0-9_-]")


def mcp_rule(server: str) -> str:
    """The rule that allows every tool of the MCP server named `server`."""
    return f"mcp__{_MCP_NAME.sub('_', server)}"


def rule_problem(rule: str) -> str | None:
    """Why 1.0.56 would not read `rule` as meant (with what to write instead), or None if it would."""
    match = _RULE.match(rule)
    if match is None:
        return f"{rule!r} is not a rule: write a tool name, optionally followed by (pattern)"
    tool, content = match["tool"], match["content"]
    if tool.startswith("mcp__"):
        if content is not None:
            return f"{rule!r}: MCP rules take no pattern; write {tool!r}"
        return None
    if tool not in TOOLS:
        known = ", ".join(sorted(TOOLS))
        return f"{rule!r}: Claude Code {CLI_VERSION} has no tool {tool!r} (its tools: {known}; MCP: mcp__<server>)"
    if content is None:
        return None
    if content.strip() in ("*", ""):
        return (
            f"{rule!r} grants nothing in Claude Code {CLI_VERSION} (it matches the literal {content!r}); "
            f"write {tool!r} to cover the whole tool"
        )
    if tool == "Bash" and "*" in content and not (content.endswith(":*") and "*" not in content[:-2]):
        return (
            f"{rule!r}: a Bash rule is an exact command or a prefix ending in ':*', e.g. 'Bash(npm test:*)'"
        )
    if tool in EDIT_ONLY_VIA_EDIT:
        return (
            f"{rule!r} is never consulted: {CLI_VERSION} judges writes by Edit rules; write 'Edit({content})'"
        )
    if tool == "WebFetch" and not content.startswith("domain:"):
        return f"{rule!r}: a WebFetch rule names a host, e.g. 'WebFetch(domain:example.com)'"
    if tool not in PATH_RULE_TOOLS | {"Bash", "WebFetch"}:
        return f"{rule!r}: {tool} rules take no pattern; write {tool!r}"
    return None


def rule_problems(rules: Iterable[str]) -> list[str]:
    return [problem for rule in rules if (problem := rule_problem(rule)) is not None]


def agent_rules(
    allow: Iterable[str], deny: Iterable[str], mcp_servers: Iterable[str]
) -> tuple[list[str], list[str]]:
    """The rules rendered into the managed settings: the configured ones, one allow rule per MCP
    server the run starts, and the denials that always apply. Order kept, duplicates dropped."""
    allowed = list(dict.fromkeys([*allow, *(mcp_rule(server) for server in mcp_servers)]))
    denied = list(dict.fromkeys([*REQUIRED_DENY, *deny]))
    return allowed, denied

"""The agent's activity log for people: each transcript event as a few one-line entries (tool calls
as one-liners, never raw JSON), and the result, cost and duration as they are shown on GitHub.

Pure. The log follower (bot/logfollow.py) keeps the last lines of this log for each run.
"""

from __future__ import annotations

from bot.core.transcript import (
    LINE_WIDTH,
    AgentProgress,
    Assistant,
    Block,
    Event,
    Init,
    PlainText,
    Result,
    TextBlock,
    ToolResult,
    ToolUse,
    User,
    denied_tool,
    describe_tool,
    one_line,
)


def activity_lines(event: Event, progress: AgentProgress) -> tuple[str, ...]:
    """How one event reads in the activity log for a person (tool calls as one-liners, no JSON).
    `progress` is the state before the event (for the working directory and the tools in flight)."""
    if isinstance(event, Init):
        session = f" (session {event.session_id[:8]})" if event.session_id else ""
        return (one_line(f"▶ {event.model or 'agent'} started in {event.cwd or '?'}{session}"),)
    if isinstance(event, Assistant):
        lines = []
        for block in event.blocks:
            if isinstance(block, TextBlock) and block.text.strip():
                lines.append(("⚠ " if event.synthetic else "💬 ") + one_line(block.text, LINE_WIDTH - 2))
            elif isinstance(block, ToolUse):
                lines.append("🔧 " + describe_tool(block, progress.cwd))
        return tuple(lines)
    if isinstance(event, User):
        return tuple(line for block in event.blocks if (line := _user_line(block, progress)))
    if isinstance(event, Result):
        return (result_line(event),)
    if isinstance(event, PlainText) and event.text.strip():
        return (one_line(event.text),)
    return ()


def _user_line(block: Block, progress: AgentProgress) -> str | None:
    if isinstance(block, TextBlock):
        return ("👤 " + one_line(block.text, LINE_WIDTH - 2)) if block.text.strip() else None
    if not isinstance(block, ToolResult):
        return None
    tool = denied_tool(block)
    if tool is not None:
        return f"  ↳ ✗ permission to use {tool} was not granted"
    if progress.tool_name(block.tool_use_id) == "TodoWrite" and not block.is_error:
        return None
    lines = [line for line in block.content.splitlines() if line.strip()]
    if not lines:
        return "  ↳ (no output)"
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    first = one_line(lines[0], LINE_WIDTH - 20).removesuffix(" …")
    return f"  ↳ {'✗ ' if block.is_error else ''}{first}{more}"


def cost_text(cost_usd: float | None) -> str:
    """`$0.42`; amounts under a cent as `<$0.01`."""
    if cost_usd is None:
        return "-"
    if 0 < cost_usd < 0.005:
        return "<$0.01"
    return f"${cost_usd:,.2f}"


def duration_text(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "-"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, whole = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {whole}s"


def turns_text(turns: object) -> str:
    return "1 turn" if turns == 1 else f"{turns} turns"


def result_line(result: Result) -> str:
    facts = f"{turns_text(result.num_turns if result.num_turns is not None else '?')}, "
    facts += f"{duration_text(result.duration_ms)}, {cost_text(result.cost_usd)}"
    if not result.failed:
        return f"✅ finished ({facts})"
    why = one_line(result.text, LINE_WIDTH // 2) if result.is_error and result.text else result.subtype
    return f"❌ {why} ({facts})"

"""What a run's page shows: Markdown with HTML disabled, tool calls paired with their results, long
outputs folded, the header and the timeline."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core import runpage
from bot.core.transcript import Assistant, PlainText, Result, TextBlock, ToolResult, ToolUse, User
from bot.store.rows import RunRecord, StoredEvent, event_data


@pytest.mark.parametrize(
    ("markdown", "html"),
    [
        ("**bold** and `code`", "<p><strong>bold</strong> and <code>code</code></p>\n"),
        ("<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
        ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>\n"),
        ("[x](data:text/html,<b>)", "<p>[x](data:text/html,&lt;b&gt;)</p>\n"),
        ("![pixel](https://evil.example/p.png)",
         '<p>!<a href="https://evil.example/p.png" rel="nofollow noopener noreferrer">pixel</a></p>\n'),
        ("[docs](https://example.com)", '<p><a href="https://example.com" rel="nofollow noopener noreferrer">docs</a></p>\n'),
        ('<a href="https://x">raw</a>', "<p>&lt;a href=&quot;https://x&quot;&gt;raw&lt;/a&gt;</p>\n"),
    ],
)  # fmt: skip
def test_agent_markdown_renders_without_html_scripts_or_images(markdown: str, html: str) -> None:
    assert runpage.markdown_html(markdown) == html


def rows(*events: Any) -> list[StoredEvent]:
    found = []
    for index, event in enumerate(events, start=1):
        if isinstance(event, tuple):  # a phase row
            found.append(StoredEvent(index, "phase", index, 100.0 + index, "phase", {"phase": event[0]}))
            continue
        kind, data = event_data(event)
        found.append(StoredEvent(index, "pod", index, 100.0 + index, kind, data))
    return found


CALL = Assistant("m1", "x", (TextBlock("Reading."), ToolUse("t1", "Read", {"file_path": "/w/src/a.py"})))
RESULT = User((ToolResult("t1", "print('a')", False),))


def test_a_tool_call_is_one_line_with_its_input_and_result() -> None:
    items = runpage.transcript(rows(CALL, RESULT), cwd="/w")
    assert [item.kind for item in items] == ["said", "tool"]
    tool = items[1]
    assert tool.line == "Read src/a.py" and '"file_path": "/w/src/a.py"' in tool.input
    assert tool.result is not None and tool.result.head == "print('a')" and not tool.error
    assert tool.tool == runpage.dom_id("t1") and tool.tool.startswith("t-")


def test_live_rows_stay_apart_and_a_result_names_its_call() -> None:
    items = runpage.transcript(rows(CALL, RESULT), pair=False)
    assert [item.kind for item in items] == ["said", "tool", "result"]
    assert items[1].result is None and items[2].tool == items[1].tool


def test_a_failed_result_marks_its_call() -> None:
    items = runpage.transcript(rows(CALL, User((ToolResult("t1", "denied", True),))))
    assert items[1].error and items[1].result is not None and items[1].result.is_error


def test_a_result_without_its_call_stands_alone() -> None:
    items = runpage.transcript(rows(User((ToolResult("t9", "orphan", False), TextBlock("the prompt")))))
    assert [item.kind for item in items] == ["result", "user"]


def test_long_outputs_are_folded() -> None:
    long = "\n".join(f"line {n}" for n in range(100))
    shown = runpage.output(long, False)
    assert shown.head.splitlines() == [f"line {n}" for n in range(runpage.FOLD_LINES)]
    assert shown.more_lines == 100 - runpage.FOLD_LINES and shown.rest.endswith("line 99")
    assert runpage.output("short", False).rest == ""


def test_script_lines_are_grouped_and_the_result_and_api_errors_are_marked() -> None:
    synthetic = Assistant(None, "<synthetic>", (TextBlock("API Error: 529 overloaded"),))
    failed = Result("error_during_execution", True, "it broke", 2, 1000, 0.01)
    items = runpage.transcript(rows(PlainText("+ a"), PlainText("+ b"), synthetic, failed))
    assert [item.kind for item in items] == ["output", "said", "finished"]
    assert items[0].lines == ("+ a", "+ b")
    assert items[1].error and items[2].error and "it broke" in items[2].html


def run(**changes: Any) -> RunRecord:
    values: dict[str, Any] = {
        "namespace": "orchestrator",
        "name": "code-5-trader-abc",
        "kind": "CodeRun",
        "repository": "demo-org/trader",
        "user": "alice",
        "phase": "Running",
        "created_at": 1000.0,
        "updated_at": 1001.0,
        "issue_number": 7,
        "header": {
            "taskId": 5,
            "service": "trader",
            "model": "claude-x",
            "checkRunId": "42",
            "pullRequestUrl": "https://github.com/demo-org/trader/pull/8",
            "repositoryUrl": "https://github.com/demo-org/trader",
            "progress": {
                "turns": 4,
                "costUsd": 0.123,
                "todos": [{"content": "Fix", "status": "in_progress"}],
            },
        },
    }
    values.update(changes)
    return RunRecord(**values)


def test_the_header_has_the_facts_and_the_links() -> None:
    head = runpage.header(run(retry_of="code-5-trader-000"), now=1090.0, retries=["code-5-trader-def"])
    facts = dict(head.facts)
    assert (head.title, head.active, facts["Duration"], facts["Cost"], facts["Turns"]) == (
        "code task-5 (trader)", True, "1m 30s", "$0.12", "4",
    )  # fmt: skip
    assert [(link.label, link.href) for link in head.links] == [
        ("demo-org/trader#7", "https://github.com/demo-org/trader/issues/7"),
        ("Pull request", "https://github.com/demo-org/trader/pull/8"),
        ("Check run", "https://github.com/demo-org/trader/runs/42"),
        ("Previous run code-5-trader-000", "/runs/orchestrator/code-5-trader-000"),
        ("Next run code-5-trader-def", "/runs/orchestrator/code-5-trader-def"),
    ]
    assert head.todos == (runpage.Todo("Fix", "in_progress"),)


def test_a_pull_request_link_that_is_not_http_is_left_out() -> None:
    head = runpage.header(run(header={"pullRequestUrl": "javascript:alert(1)"}, kind="DocsRun"), now=1001.0)
    assert head.title == "docs" and all(link.label != "Pull request" for link in head.links)


def test_the_timeline_shows_each_phase_with_its_reason() -> None:
    phases = [
        StoredEvent(1, "phase", 1, 1000.0, "phase", {"phase": "Queued", "message": "behind code-4-trader-x"}),
        StoredEvent(2, "phase", 3, 1060.0, "phase", {"phase": "Running"}),
    ]
    moments = runpage.timeline(run(retry_of="code-5-trader-000"), phases)
    assert [(m.what, m.detail) for m in moments] == [
        ("created as a retry of code-5-trader-000", ""),
        ("queued", "behind code-4-trader-x"),
        ("running", ""),
    ]
    assert moments[2].at == "1970-01-01 00:17:40 UTC"


def test_the_todo_list_comes_from_the_last_todo_write_when_the_header_has_none() -> None:
    todo_write = Assistant(
        "m", "x", (ToolUse("t", "TodoWrite", {"todos": [{"content": "A", "status": "completed"}]}),)
    )
    assert runpage.todo_list(rows(todo_write, RESULT)) == (runpage.Todo("A", "completed"),)
    assert runpage.todo_list(rows(RESULT)) == ()

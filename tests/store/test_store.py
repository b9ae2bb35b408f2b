"""The store's interface, on both backends (SQLite file, real PostgreSQL server)."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import StoreUnavailable
from bot.store import RunQuery, SessionRecord, Store, open_store
from bot.store.migrate import migrations
from bot.store.rows import EventRecord, RunRecord


def run(name: str, repository: str = "demo-org/trader", **changes: object) -> RunRecord:
    values: dict[str, object] = {
        "namespace": "orchestrator",
        "name": name,
        "kind": "CodeRun",
        "repository": repository,
        "user": "alice",
        "phase": "Running",
        "created_at": 1000.0,
        "updated_at": 1001.0,
        "header": {"model": "claude-opus-4-20250514"},
    }
    values.update(changes)
    return RunRecord(**values)  # type: ignore[arg-type]


def line(name: str, seq: int, text: str = "", stream: str = "pod-uid") -> EventRecord:
    return EventRecord(
        "orchestrator", name, stream, seq, 1000.0 + seq, "text", {"text": text or f"line {seq}"}
    )


async def test_migrations_apply_once_and_record_their_versions(store: Store) -> None:
    assert await store.migrate() == [m.version for m in migrations(store.dialect)]
    assert await store.migrate() == []


async def test_migrating_from_two_processes_at_once_applies_each_file_once(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    try:
        applied = await asyncio.gather(first.migrate(), second.migrate())
        assert sorted(applied, key=len) == [[], [m.version for m in migrations(first.dialect)]]
    finally:
        await first.close()
        await second.close()


async def test_a_run_is_upserted_and_read_back(store: Store) -> None:
    await store.write([run("r1")], [])
    await store.write([run("r1", phase="Succeeded", finished_at=1200.0, header={"turns": 3})], [])
    found = await store.run("orchestrator", "r1")
    assert found == run("r1", phase="Succeeded", finished_at=1200.0, header={"turns": 3})
    assert await store.run("orchestrator", "nothing") is None


async def test_events_written_twice_are_stored_once_in_order(store: Store) -> None:
    events = [line("r1", seq) for seq in range(1, 6)]
    await store.write([run("r1")], events[:3])
    await store.write([], events)  # a log read again from its start after a restart
    stored = await store.events("orchestrator", "r1")
    assert [e.data["text"] for e in stored] == [f"line {n}" for n in range(1, 6)]
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    after = await store.events("orchestrator", "r1", after=stored[2].id)
    assert [e.seq for e in after] == [4, 5]


async def test_the_same_line_number_of_another_stream_is_another_event(store: Store) -> None:
    await store.write([], [line("r1", 1, "transcript"), line("r1", 1, "phase", stream="phase")])
    assert len(await store.events("orchestrator", "r1")) == 2


async def test_texts_keep_every_character(store: Store) -> None:
    text = "naïve 💬 <script>alert('x')</script> \\ ' \" ; DROP TABLE runs; -- ?"
    await store.write([run("r1", header={"message": text})], [line("r1", 1, text)])
    assert (await store.events("orchestrator", "r1"))[0].data["text"] == text
    found = await store.run("orchestrator", "r1")
    assert found is not None and found.header["message"] == text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(RunQuery(), ["r4", "r3", "r2", "r1"], id="all, newest first"),
        pytest.param(
            RunQuery(repositories=["demo-org/trader"]), ["r3", "r2", "r1"], id="readable repositories"
        ),
        pytest.param(RunQuery(repositories=[]), [], id="no readable repository"),
        pytest.param(RunQuery(repository="Demo-Org/Other"), ["r4"], id="one repository, any case"),
        pytest.param(RunQuery(phase="Failed"), ["r2"], id="by phase"),
        pytest.param(RunQuery(user="bob"), ["r3"], id="by user"),
        pytest.param(RunQuery(limit=2, offset=1), ["r3", "r2"], id="a page"),
    ],
)
async def test_runs_are_listed_newest_first_and_filtered(
    store: Store, query: RunQuery, expected: list[str]
) -> None:
    await store.write(
        [
            run("r1", created_at=1.0),
            run("r2", created_at=2.0, phase="Failed"),
            run("r3", created_at=3.0, user="bob"),
            run("r4", created_at=4.0, repository="demo-org/other"),
        ],
        [],
    )
    assert [found.name for found in await store.runs(query)] == expected


async def test_retries_and_repositories(store: Store) -> None:
    await store.write(
        [run("r1"), run("r2", retry_of="r1", created_at=2000.0), run("r3", repository="Demo-Org/Other")], []
    )
    assert await store.retries_of("orchestrator", "r1") == ["r2"]
    assert await store.repositories() == ["Demo-Org/Other", "demo-org/trader"]


async def test_retention_removes_runs_finished_before_the_cutoff_with_their_events(store: Store) -> None:
    await store.write(
        [
            run("old", phase="Succeeded", finished_at=100.0),
            run("recent", phase="Failed", finished_at=900.0),
            run("active"),
        ],
        [line("old", 1), line("recent", 1), line("active", 1)],
    )
    assert await store.delete_finished_before(500.0) == 1
    assert await store.run("orchestrator", "old") is None
    assert await store.events("orchestrator", "old") == []
    assert [len(await store.events("orchestrator", name)) for name in ("recent", "active")] == [1, 1]


async def test_sessions_are_kept_until_deleted_or_expired(store: Store) -> None:
    await store.put_session(SessionRecord("h1", "alice", 7, "encrypted-1", 100.0))
    await store.put_session(SessionRecord("h2", "bob", 8, "encrypted-2", 300.0))
    assert await store.session("h1") == SessionRecord("h1", "alice", 7, "encrypted-1", 100.0)
    assert await store.delete_expired_sessions(200.0) == 1
    assert await store.session("h1") is None
    await store.delete_session("h2")
    assert await store.session("h2") is None


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(
            "sqlite:////proc/no-such-dir/runs.sqlite3", id="sqlite in a place that cannot be written"
        ),
        pytest.param("postgresql://nobody@127.0.0.1:9/none", id="postgresql where nothing listens"),
    ],
)
async def test_an_unreachable_store_raises_store_unavailable(url: str) -> None:
    unreachable = open_store(url)
    try:
        with pytest.raises(StoreUnavailable):
            await unreachable.ping()
    finally:
        await unreachable.close()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://x/y", "must start with sqlite:/// or postgresql://"),
        ("sqlite:///", "a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path"),
        ("sqlite://host/x", "a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path"),
        ("postgresql:///db", "a PostgreSQL URL needs a host"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="^" + problem.replace("(", r"\(").replace(")", r"\)") + "$"):
        open_store(url)

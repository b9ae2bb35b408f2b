"""The webhook endpoint over real HTTP: signatures, limits, malformed deliveries, health and metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from gidgethub import BadRequest
from pydantic import BaseModel, Field, ValidationError

from bot.config import Settings
from bot.core.events import Event, PingEvent
from bot.errors import KubernetesUnavailable
from bot.logs import JsonFormatter
from bot.webhook import WEBHOOK_APP, EventRouter, Outcome, create_app

from .conftest import WEBHOOK_SECRET

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]

# GitHub's published example: https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
PING_BODY = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()


def sha256_signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sha1_signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def delivery_headers(event: str = "ping", delivery: str = "d-1", **extra: str) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "Content-Type": "application/json",
        **extra,
    }


class RecordingRouter(EventRouter):
    """A router with one `ping` handler that records what it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Event[PingEvent]] = []
        self.add(self.record, "ping")

    async def record(self, event: Event[PingEvent]) -> Outcome:
        self.seen.append(event)
        return Outcome(f"saw {event.event}")


@pytest.fixture
def router() -> RecordingRouter:
    return RecordingRouter()


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, settings: Settings, router: RecordingRouter
) -> AsyncIterator[Client]:
    yield await aiohttp_client(create_app(settings, router))


async def test_published_test_vector_is_accepted(client: Client) -> None:
    assert sha256_signature(VECTOR_BODY) == VECTOR_SIGNATURE
    # "Hello, World!" is not JSON, so it is sent as an event nobody handles: accepted without parsing.
    response = await client.post(
        "/webhook",
        data=VECTOR_BODY,
        headers=delivery_headers("push", **{"X-Hub-Signature-256": VECTOR_SIGNATURE}),
    )
    assert response.status == 202
    assert (await response.json())["outcome"] == "ignored"


async def test_signed_handled_event_reaches_its_handler(client: Client, router: RecordingRouter) -> None:
    response = await client.post(
        "/webhook",
        data=PING_BODY,
        headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
    )
    assert response.status == 200
    assert (await response.json())["done"] == ["saw ping"]
    [event] = router.seen
    assert event.delivery_id == "d-1"
    assert event.data.hook_id == 1


FORGED = [
    pytest.param({}, PING_BODY, id="no signature header"),
    pytest.param({"X-Hub-Signature": sha1_signature(PING_BODY)}, PING_BODY, id="only the sha1 header"),
    pytest.param(
        {"X-Hub-Signature-256": sha256_signature(PING_BODY, "wrong secret")}, PING_BODY, id="wrong secret"
    ),
    pytest.param({"X-Hub-Signature-256": sha256_signature(PING_BODY)[:-1]}, PING_BODY, id="truncated"),
    pytest.param({"X-Hub-Signature-256": ""}, PING_BODY, id="empty"),
    pytest.param({"X-Hub-Signature-256": "sha256="}, PING_BODY, id="prefix only"),
    pytest.param(
        {"X-Hub-Signature-256": "sha256=" + sha256_signature(PING_BODY)[7:].upper()},
        PING_BODY,
        id="uppercase hex",
    ),
    pytest.param(
        {"X-Hub-Signature-256": sha1_signature(PING_BODY)}, PING_BODY, id="sha1 value in sha256 header"
    ),
    pytest.param(
        {"X-Hub-Signature-256": sha256_signature(PING_BODY)[7:]}, PING_BODY, id="hex without prefix"
    ),
    pytest.param(
        {"X-Hub-Signature-256": sha256_signature(PING_BODY)},
        PING_BODY.replace(b"awesome", b"awesomE"),
        id="body changed",
    ),
    pytest.param(
        {"X-Hub-Signature-256": sha256_signature(PING_BODY)}, PING_BODY + b" ", id="one byte appended"
    ),
    pytest.param(
        {"X-Hub-Signature-256": sha256_signature(b'{"zen": "other"}')},
        PING_BODY,
        id="signature of another body",
    ),
    pytest.param(
        {"X-Hub-Signature-256": sha256_signature(PING_BODY) + "00"}, PING_BODY, id="extra hex digits"
    ),
]


@pytest.mark.parametrize(("signature_headers", "body"), FORGED)
async def test_forged_delivery_is_rejected_with_401(
    client: Client, router: RecordingRouter, signature_headers: dict[str, str], body: bytes
) -> None:
    response = await client.post("/webhook", data=body, headers=delivery_headers(**signature_headers))
    assert response.status == 401
    assert "error" in await response.json()
    assert router.seen == []


async def test_legacy_sha1_only_request_is_told_why(client: Client) -> None:
    response = await client.post(
        "/webhook", data=PING_BODY, headers=delivery_headers(**{"X-Hub-Signature": sha1_signature(PING_BODY)})
    )
    assert response.status == 401
    assert "X-Hub-Signature-256 is required" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        pytest.param({"X-GitHub-Delivery": "d-1"}, PING_BODY, "missing X-GitHub-Event", id="no event header"),
        pytest.param(
            {"X-GitHub-Event": "ping"},
            PING_BODY,
            "missing X-GitHub-Event or X-GitHub-Delivery",
            id="no delivery",
        ),
        pytest.param(delivery_headers(), b"{not json", "not valid JSON", id="malformed JSON"),
        pytest.param(delivery_headers(), b"\xff\xfe{}", "not valid JSON", id="not UTF-8"),
        pytest.param(
            delivery_headers(), b"[1, 2]", "body: expected an object, got an array", id="JSON array"
        ),
        pytest.param(
            delivery_headers(),
            b"[" * 100_000 + b"]" * 100_000,
            "body: expected an object, got an array",
            id="deeply nested",
        ),
        pytest.param(
            delivery_headers(),
            b'{"zen": "z", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "not valid JSON: nested too deeply",
            id="deeply nested in a field nobody reads",
        ),
        pytest.param(
            delivery_headers(),
            b'{"zen": "z", "hook_id": ' + b"9" * 5000 + b"}",
            "hook_id: integer value out of range",
            id="5000-digit number",
        ),
        pytest.param(
            delivery_headers(), b'{"hook_id": 1}', "zen: required field missing", id="a field missing"
        ),
    ],
)
async def test_malformed_but_signed_delivery_gets_400(
    client: Client, router: RecordingRouter, headers: dict[str, str], body: bytes, reason: str
) -> None:
    response = await client.post(
        "/webhook", data=body, headers={**headers, "X-Hub-Signature-256": sha256_signature(body)}
    )
    assert response.status == 400
    assert reason in (await response.json())["error"]
    assert router.seen == []


async def test_body_over_the_limit_gets_413_from_its_length(
    aiohttp_client: ClientFactory, settings: Settings, router: RecordingRouter
) -> None:
    settings.orchestrator.max_body_bytes = 1024
    client = await aiohttp_client(create_app(settings, router))
    body = b"{" + b" " * 1024 + b"}"
    response = await client.post(
        "/webhook", data=body, headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(body)})
    )
    assert response.status == 413


async def test_streamed_body_over_the_limit_gets_413_without_a_length(
    aiohttp_client: ClientFactory, settings: Settings, router: RecordingRouter
) -> None:
    settings.orchestrator.max_body_bytes = 100_000
    client = await aiohttp_client(create_app(settings, router))
    sent = 0

    async def endless_chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        # Far more than the limit; the server must stop reading long before the end.
        for _ in range(10_000):
            sent += 1
            yield b" " * 1024

    headers = delivery_headers(**{"X-Hub-Signature-256": sha256_signature(b"")})
    response = await client.post("/webhook", data=endless_chunks(), headers=headers)
    assert response.status == 413
    assert sent < 10_000


async def test_body_at_the_limit_is_read(
    aiohttp_client: ClientFactory, settings: Settings, router: RecordingRouter
) -> None:
    body = json.dumps({"zen": "x" * 900}).encode()
    settings.orchestrator.max_body_bytes = len(body)
    client = await aiohttp_client(create_app(settings, router))
    response = await client.post(
        "/webhook", data=body, headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(body)})
    )
    assert response.status == 200


async def test_handler_that_cannot_store_makes_503_and_others_still_run(
    aiohttp_client: ClientFactory, settings: Settings, router: RecordingRouter
) -> None:
    async def kubernetes_down(event: Event[PingEvent]) -> Outcome:
        raise KubernetesUnavailable("connection refused")

    async def broken(event: Event[PingEvent]) -> Outcome:
        raise RuntimeError("bug")

    router.add(kubernetes_down, "ping")
    router.add(broken, "ping")
    client = await aiohttp_client(create_app(settings, router))
    response = await client.post(
        "/webhook",
        data=PING_BODY,
        headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
    )
    assert response.status == 503
    assert response.headers["Retry-After"]
    assert len(router.seen) == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'orchestrator_webhook_handler_errors_total{event="ping"} 1.0' in metrics


async def test_handler_bug_makes_500(aiohttp_client: ClientFactory, settings: Settings) -> None:
    router = EventRouter()

    async def broken(event: Event[PingEvent]) -> Outcome:
        raise RuntimeError("bug")

    router.add(broken, "ping")
    client = await aiohttp_client(create_app(settings, router))
    response = await client.post(
        "/webhook",
        data=PING_BODY,
        headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
    )
    assert response.status == 500


def _spec_refusal() -> Exception:
    class Spec(BaseModel):
        branch: str = Field(pattern=r"^[a-z]+$")

    try:
        Spec(branch="ü")
    except ValidationError as exc:
        return exc
    raise AssertionError("the model accepted the value")


@pytest.mark.parametrize(
    ("raised", "status", "reason"),
    [
        pytest.param(
            _spec_refusal, 400, "a value a run cannot take: branch: String should match", id="run spec"
        ),
        pytest.param(lambda: BadRequest(HTTPStatus.NOT_FOUND), 400, "GitHub does not know", id="GitHub 404"),
        pytest.param(lambda: BadRequest(HTTPStatus.GONE), 400, "GitHub does not know", id="GitHub 410"),
        pytest.param(lambda: BadRequest(HTTPStatus.FORBIDDEN), 500, None, id="GitHub 403 is ours to fix"),
        pytest.param(lambda: KeyError("bug"), 500, None, id="a bug"),
    ],
)
async def test_what_the_delivery_names_is_refused_and_bugs_are_500(
    aiohttp_client: ClientFactory,
    settings: Settings,
    raised: Callable[[], Exception],
    status: int,
    reason: str | None,
) -> None:
    router = EventRouter()

    async def handler(event: Event[PingEvent]) -> Outcome:
        raise raised()

    router.add(handler, "ping")
    client = await aiohttp_client(create_app(settings, router))
    response = await client.post(
        "/webhook",
        data=PING_BODY,
        headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
    )
    assert response.status == status
    if reason is not None:
        assert reason in (await response.json())["error"]


async def test_follow_up_runs_after_the_answer(aiohttp_client: ClientFactory, settings: Settings) -> None:
    ran: list[str] = []
    router = EventRouter()

    async def reply() -> None:
        ran.append("reply")

    async def handler(event: Event[PingEvent]) -> Outcome:
        return Outcome("queued a reply", follow_up=[reply])

    router.add(handler, "ping")
    app = create_app(settings, router)
    client = await aiohttp_client(app)
    response = await client.post(
        "/webhook",
        data=PING_BODY,
        headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
    )
    assert response.status == 200
    await app[WEBHOOK_APP].drain_follow_ups()
    assert ran == ["reply"]


async def test_healthz_answers(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"


async def test_readyz_reports_each_failing_check(
    aiohttp_client: ClientFactory, settings: Settings, router: RecordingRouter
) -> None:
    async def kubernetes() -> str | None:
        return "kubernetes: connection refused"

    async def github() -> str | None:
        return None

    client = await aiohttp_client(create_app(settings, router, readiness=[kubernetes, github]))
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["problems"] == ["kubernetes: connection refused"]


async def test_metrics_count_deliveries_by_event_and_outcome(client: Client) -> None:
    await client.post(
        "/webhook",
        data=PING_BODY,
        headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
    )
    await client.post("/webhook", data=PING_BODY, headers=delivery_headers())
    text = await (await client.get("/metrics")).text()
    assert 'orchestrator_webhook_deliveries_total{event="ping",outcome="handled"} 1.0' in text
    assert 'orchestrator_webhook_deliveries_total{event="-",outcome="unauthorized"} 1.0' in text
    assert 'orchestrator_webhook_request_seconds_count{outcome="handled"} 1.0' in text
    assert WEBHOOK_SECRET not in text


async def test_log_lines_carry_the_delivery_id_and_never_the_secret(client: Client) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets=[WEBHOOK_SECRET]))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    try:
        await client.post(
            "/webhook",
            data=PING_BODY,
            headers=delivery_headers(
                delivery="abc-123", **{"X-Hub-Signature-256": sha256_signature(PING_BODY)}
            ),
        )
        await client.post("/webhook", data=PING_BODY, headers=delivery_headers(delivery="forged-9"))
        logging.getLogger("test").info("echo %s", WEBHOOK_SECRET)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    webhook_lines = [line for line in lines if line["logger"] == "bot.webhook"]
    assert {line["delivery"] for line in webhook_lines} == {"abc-123", "forged-9"}
    assert WEBHOOK_SECRET not in stream.getvalue()
    assert lines[-1]["message"] == "echo [redacted]"


@pytest.mark.parametrize(
    ("answer", "done"),
    [
        pytest.param(None, None, id="the handler returned nothing"),
        pytest.param(Outcome.skipped("ignored comment by a bot"), ["ignored comment by a bot"], id="skipped"),
    ],
)
async def test_a_delivery_that_does_nothing_is_counted_and_not_logged_at_info(
    aiohttp_client: ClientFactory,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    answer: Outcome | None,
    done: list[str] | None,
) -> None:
    router = EventRouter()

    async def handler(event: Event[PingEvent]) -> Outcome | None:
        return answer

    router.add(handler, "ping")
    client = await aiohttp_client(create_app(settings, router))
    with caplog.at_level(logging.DEBUG, logger="bot.webhook"):
        response = await client.post(
            "/webhook",
            data=PING_BODY,
            headers=delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)}),
        )
    assert response.status == 200
    body = await response.json()
    assert body["outcome"] == "nothing_to_do"
    assert body.get("done") == done
    levels = {record.levelno for record in caplog.records if record.name == "bot.webhook"}
    assert levels == {logging.DEBUG}
    metrics = await (await client.get("/metrics")).text()
    assert 'orchestrator_webhook_deliveries_total{event="ping",outcome="nothing_to_do"} 1.0' in metrics


async def test_an_action_nobody_handles_runs_no_handler(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    router = EventRouter()
    seen: list[str] = []

    async def on_created(event: Event[Any]) -> Outcome:
        seen.append(event.event)
        return Outcome("acted")

    router.add(on_created, "installation", action="created")
    client = await aiohttp_client(create_app(settings, router))
    body = json.dumps({"action": "deleted", "installation": {"id": 1}}).encode()
    response = await client.post(
        "/webhook",
        data=body,
        headers=delivery_headers("installation", **{"X-Hub-Signature-256": sha256_signature(body)}),
    )
    assert (response.status, (await response.json())["outcome"], seen) == (200, "nothing_to_do", [])


def test_a_handler_for_an_event_without_a_model_is_refused_at_registration() -> None:
    async def on_push(event: Event[Any]) -> None:
        return None

    with pytest.raises(ValueError, match="no model to decode 'push' events"):
        EventRouter().add(on_push, "push")


async def test_a_burst_beyond_the_turns_waits_and_is_answered(
    aiohttp_client: ClientFactory, settings: Settings
) -> None:
    router = EventRouter()
    inside, most = 0, 0
    gate = asyncio.Event()

    async def slow(event: Event[PingEvent]) -> Outcome:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await gate.wait()
        inside -= 1
        return Outcome("pong")

    router.add(slow, "ping")
    client = await aiohttp_client(create_app(settings, router, max_in_flight=3, max_waiting=4))
    headers = delivery_headers(**{"X-Hub-Signature-256": sha256_signature(PING_BODY)})
    posts = [asyncio.create_task(client.post("/webhook", data=PING_BODY, headers=headers)) for _ in range(10)]
    for _ in range(500):
        await asyncio.sleep(0.01)
        if inside == 3 and sum(post.done() for post in posts) == 3:
            break  # 3 in flight, 3 answered at once: the other 4 wait
    gate.set()
    answers = await asyncio.gather(*posts)
    # 3 in flight, 4 waiting for a turn; the other 3 are told to come back, their bodies unread.
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200] * 7 + [503] * 3
    assert all(answer.headers.get("Retry-After") for answer in answers if answer.status == 503)
    assert most == 3
    metrics = await (await client.get("/metrics")).text()
    assert 'orchestrator_webhook_deliveries_total{event="-",outcome="busy"} 3.0' in metrics

"""The webhook service: verify, decode, dispatch, answer.

Order matters: the signature is checked over the raw body before anything is parsed, the body is never
read past the configured limit, and events nobody handles are answered from the `X-GitHub-Event` header
without decoding their JSON. A handled event is decoded into its typed model (bot/core/events.py); a
body that does not fit is answered 400 naming the field, before any handler runs. A delivery is
acknowledged (2xx) only after every handler has finished, so a run is stored in Kubernetes before GitHub
hears "done"; follow-up work (replies) runs after the answer.

Most deliveries do nothing (a comment without a command, an action nobody handles): they are counted
and logged at DEBUG, and answered with bytes encoded once. Only deliveries that did something are
logged at INFO. At most `max_in_flight` deliveries are worked on at once; the others wait for a turn
before their bodies are read, and beyond `max_waiting` of them a delivery is answered 503 at once (its
body unread, its connection closed), so a burst cannot grow the process without limit.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web
from gidgethub import BadRequest
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from bot.config import Settings
from bot.core.events import MODELS, Event, Malformed, decode
from bot.errors import UpstreamUnavailable
from bot.logs import delivery_id
from bot.metrics import WebhookMetrics
from bot.turns import Turns

log = logging.getLogger(__name__)

FollowUp = Callable[[], Awaitable[None]]
ReadinessCheck = Callable[[], Awaitable[str | None]]
"""Returns None when ready, else a short reason."""
ReadinessDetail = Callable[[], Awaitable[Any]]
"""A part shown by /readyz that does not decide readiness (the run store: its outage degrades the
run page, not the webhook)."""

_MAX_DELIVERY_ID_LENGTH = 100
_READ_CHUNK = 64 * 1024
_FOLLOW_UP_DRAIN_SECONDS = 10.0
MAX_IN_FLIGHT = 32
"""Deliveries worked on at once (the rest wait, unread). A handled delivery is mostly waiting on
Kubernetes; 32 keep one core busy while bounding what a burst holds (benchmarks/README.md)."""


@dataclass
class Outcome:
    """What a handler did with a delivery, and the work left for after the answer. `acted` is False
    for a delivery the handler looked at and deliberately left alone (a bot's comment): it is answered
    and counted like one nobody handled, without an INFO line."""

    summary: str
    follow_up: list[FollowUp] = field(default_factory=list)
    acted: bool = True

    @classmethod
    def skipped(cls, summary: str) -> Outcome:
        return cls(summary, acted=False)


@dataclass
class DispatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Why the delivery's own content could not be acted on (see `_refusal`)."""
    errors: list[str] = field(default_factory=list)

    @property
    def acted(self) -> bool:
        return any(outcome.acted or outcome.follow_up for outcome in self.outcomes)

    def summaries(self) -> list[str]:
        return [outcome.summary for outcome in self.outcomes]


Handler = Callable[[Event[Any]], Awaitable[Outcome | None]]


class EventRouter:
    """Handlers by GitHub event (and optionally action), like gidgethub's `Router`, but each handler
    receives the event decoded into its model, returns an `Outcome` and runs isolated: one handler's
    failure neither stops nor hides the others."""

    def __init__(self) -> None:
        self._routes: dict[str, list[tuple[str | None, Handler]]] = {}
        self._fetched: dict[tuple[str, str | None], tuple[Handler, ...]] = {}

    def add(self, handler: Handler, event_type: str, action: str | None = None) -> None:
        if event_type not in MODELS:
            raise ValueError(f"no model to decode {event_type!r} events with (bot/core/events.py)")
        self._routes.setdefault(event_type, []).append((action, handler))
        self._fetched.clear()

    def handles(self, event_type: str) -> bool:
        """Answerable from the header alone, so ignored events are never decoded."""
        return event_type in self._routes

    def fetch(self, event: Event[Any]) -> tuple[Handler, ...]:
        """The handlers of an event and action, looked up once per pair."""
        key = (event.event, event.action)
        handlers = self._fetched.get(key)
        if handlers is None:
            routes = self._routes.get(event.event, [])
            handlers = self._fetched[key] = tuple(h for wanted, h in routes if wanted in (None, key[1]))
        return handlers

    async def dispatch_isolated(self, event: Event[Any], metrics: WebhookMetrics) -> DispatchResult | None:
        """What the handlers did; None when none of them did anything (most deliveries)."""
        result: DispatchResult | None = None
        for handler in self.fetch(event):
            try:
                outcome = await handler(event)
            except UpstreamUnavailable as exc:
                log.warning("handler %s could not finish: %s", handler.__qualname__, exc)
                result = result or DispatchResult()
                result.unavailable.append(str(exc))
            except Exception as exc:
                result = result or DispatchResult()
                reason = _refusal(exc)
                if reason is not None:
                    log.warning("handler %s refused the delivery: %s", handler.__qualname__, reason)
                    result.refused.append(reason)
                    continue
                log.exception("handler %s failed", handler.__qualname__)
                metrics.handler_errors.labels(event.event).inc()
                result.errors.append(handler.__qualname__)
            else:
                if outcome is not None:
                    result = result or DispatchResult()
                    result.outcomes.append(outcome)
        return result


@dataclass
class WebhookApp:
    """The state of one webhook app: its settings, router, metrics and the follow-ups in flight."""

    settings: Settings
    router: EventRouter
    readiness: Sequence[ReadinessCheck] = ()
    metrics: WebhookMetrics = field(default_factory=WebhookMetrics)
    max_in_flight: int = MAX_IN_FLIGHT
    max_waiting: int | None = None
    """Deliveries waiting for a turn before more are answered 503 (default: 8 per turn)."""
    follow_ups: set[asyncio.Task[None]] = field(default_factory=set)
    readiness_details: dict[str, ReadinessDetail] = field(default_factory=dict)
    _key: bytes = field(init=False, repr=False)
    _turns: Turns = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._key = self.settings.github.webhook_secret.get_secret_value().encode()
        self._turns = Turns(self.max_in_flight, self.max_waiting)

    async def handle_webhook(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        token = delivery_id.set(
            request.headers.get("X-GitHub-Delivery", "")[:_MAX_DELIVERY_ID_LENGTH] or None
        )
        event_name = "-"
        if self._turns.queue_full:
            delivery_id.reset(token)
            response = _answer_json(503, {"error": "too many deliveries at once"}, retry_after=True)
            response.force_close()
            self.metrics.deliveries.record("-", "busy", time.perf_counter() - started)
            return response
        await self._turns.enter()
        try:
            event_name, response, outcome = await self._answer(request)
        finally:
            self._turns.leave()
            delivery_id.reset(token)
        self.metrics.deliveries.record(event_name, outcome, time.perf_counter() - started)
        return response

    async def _answer(self, request: web.Request) -> tuple[str, web.Response, str]:
        signature = request.headers.get("X-Hub-Signature-256")
        if signature is None:
            legacy = "X-Hub-Signature" in request.headers
            reason = (
                "only the legacy X-Hub-Signature (SHA-1) header was sent; X-Hub-Signature-256 is required"
                if legacy
                else "missing X-Hub-Signature-256 header"
            )
            return "-", _refuse(401, reason), "unauthorized"
        if not signature.startswith("sha256="):
            # gidgethub would also accept a "sha1=" value here; this header must carry SHA-256.
            return "-", _refuse(401, "X-Hub-Signature-256 must hold a sha256= signature"), "unauthorized"
        body = await _read_limited(request, self.settings.orchestrator.max_body_bytes)
        if body is None:
            limit = self.settings.orchestrator.max_body_bytes
            return "-", _refuse(413, f"body larger than {limit} bytes"), "too_large"
        if not _signature_matches(body, signature, self._key):
            return "-", _refuse(401, "signature does not match the body"), "unauthorized"

        event_name = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if not event_name or not delivery:
            return "-", _refuse(400, "missing X-GitHub-Event or X-GitHub-Delivery header"), "bad_request"
        if not self.router.handles(event_name):
            log.debug("ignored event %s", event_name)
            return event_name, _answer_ignored(event_name), "ignored"
        data = decode(event_name, body)
        if isinstance(data, Malformed):
            return event_name, _refuse(400, str(data), field=data.field), "bad_request"

        result = await self.router.dispatch_isolated(Event(event_name, delivery, data), self.metrics)
        if result is None:
            log.debug("nothing to do for %s", event_name)
            return event_name, _answer_nothing_to_do(event_name), NOTHING_TO_DO
        if result.unavailable:
            self._start_follow_ups(result)
            log.warning("answering 503 so GitHub can redeliver", extra={"event": event_name})
            body_json = {"event": event_name, "outcome": "unavailable", "done": result.summaries()}
            return event_name, _answer_json(503, body_json, retry_after=True), "unavailable"
        if result.errors:
            self._start_follow_ups(result)
            return event_name, _answer_json(500, {"event": event_name, "outcome": "error"}), "error"
        if result.refused:
            self._start_follow_ups(result)
            return event_name, _refuse(400, "; ".join(result.refused)), "bad_request"
        self._start_follow_ups(result)
        summaries = result.summaries()
        if not result.acted:
            log.debug("nothing to do for %s: %s", event_name, summaries)
            return (
                event_name,
                _answer_json(200, _answer_body(event_name, NOTHING_TO_DO, summaries)),
                NOTHING_TO_DO,
            )
        log.info("handled %s", event_name, extra={"event": event_name, "done": summaries})
        return event_name, _answer_json(200, _answer_body(event_name, "handled", summaries)), "handled"

    def _start_follow_ups(self, result: DispatchResult) -> None:
        for outcome in result.outcomes:
            for follow_up in outcome.follow_up:
                self._start_follow_up(follow_up)

    def _start_follow_up(self, follow_up: FollowUp) -> None:
        task = asyncio.get_running_loop().create_task(_run_follow_up(follow_up))
        self.follow_ups.add(task)
        task.add_done_callback(self.follow_ups.discard)

    async def drain_follow_ups(self) -> None:
        """Wait (bounded) for follow-ups in flight; used on shutdown and by tests."""
        if self.follow_ups:
            await asyncio.wait(set(self.follow_ups), timeout=_FOLLOW_UP_DRAIN_SECONDS)

    async def healthz(self, request: web.Request) -> web.Response:
        return _answer_json(200, {"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        problems = [
            problem for problem in await asyncio.gather(*(check() for check in self.readiness)) if problem
        ]
        shown: dict[str, Any] = {}
        if self.readiness_details:
            values = await asyncio.gather(*(detail() for detail in self.readiness_details.values()))
            shown["detail"] = dict(zip(self.readiness_details, values, strict=True))
        if problems:
            return _answer_json(503, {"status": "not ready", "problems": problems, **shown})
        return _answer_json(200, {"status": "ready", **shown})

    async def metrics_endpoint(self, request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


WEBHOOK_APP: web.AppKey[WebhookApp] = web.AppKey("webhook_app", WebhookApp)


def create_app(
    settings: Settings,
    router: EventRouter | None = None,
    *,
    readiness: Sequence[ReadinessCheck] = (),
    metrics: WebhookMetrics | None = None,
    max_in_flight: int = MAX_IN_FLIGHT,
    max_waiting: int | None = None,
) -> web.Application:
    """The aiohttp application for `serve`. Handlers are registered on `router` by the caller."""
    state = WebhookApp(
        settings, router or EventRouter(), readiness, metrics or WebhookMetrics(), max_in_flight, max_waiting
    )
    # The body limit is enforced by `_read_limited`; aiohttp's own cap must not be lower.
    app = web.Application(client_max_size=settings.orchestrator.max_body_bytes + 1)
    app[WEBHOOK_APP] = state
    app.router.add_post(settings.orchestrator.webhook_path, state.handle_webhook)
    app.router.add_get("/healthz", state.healthz)
    app.router.add_get("/readyz", state.readyz)
    app.router.add_get("/metrics", state.metrics_endpoint)

    async def drain(_: web.Application) -> None:
        await state.drain_follow_ups()

    app.on_shutdown.append(drain)
    return app


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` (never buffering more)."""
    length = request.content_length
    if length is not None:
        if length > limit:
            return None
        # GitHub announces the length: one read, not a loop of chunks that ends on an empty one.
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            return exc.partial  # cut short: its signature will not match
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _run_follow_up(follow_up: FollowUp) -> None:
    try:
        await follow_up()
    except Exception:
        log.exception("follow-up work after the answer failed")


def _signature_matches(body: bytes, signature: str, key: bytes) -> bool:
    """`signature` is "sha256=<hex>" (checked by the caller): what gidgethub's `validate_event`
    checks, with the key encoded once and bytes compared (a non-ASCII header is a mismatch, not a
    TypeError)."""
    expected = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, signature[len("sha256=") :].encode("utf-8", "replace"))


NOTHING_TO_DO = "nothing_to_do"


def _answer_body(event_name: str, outcome: str, done: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event_name, "outcome": outcome}
    if done is not None:
        body["done"] = done
    return body


@functools.lru_cache(maxsize=128)
def _encoded_once(event_name: str, outcome: str) -> bytes:
    return json.dumps(_answer_body(event_name, outcome)).encode()


def _answer_ignored(event_name: str) -> web.Response:
    """What `_answer_json` would send, from bytes encoded once per event name (most deliveries)."""
    return web.Response(status=202, body=_encoded_once(event_name, "ignored"), headers=_JSON_HEADERS)


def _answer_nothing_to_do(event_name: str) -> web.Response:
    """A handled event that asked for nothing (most comments): bytes encoded once per event name."""
    return web.Response(status=200, body=_encoded_once(event_name, NOTHING_TO_DO), headers=_JSON_HEADERS)


_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def _refuse(status: int, reason: str, *, field: str | None = None) -> web.Response:
    log.warning("refused delivery: %s", reason, extra={"status": status})
    return _answer_json(status, {"error": reason} if field is None else {"error": reason, "field": field})


def _refusal(exc: Exception) -> str | None:
    """Why a handler's failure is the delivery's content and not a bug or an outage, or None.

    - a run's resource model refused a value the delivery carried (an SSH URL or a default branch a
      run cannot take): every run is validated before it is stored;
    - GitHub answered 404 or 410 for what the delivery names (an installation, a pull request that
      does not exist, or no longer): sending it again changes nothing."""
    if isinstance(exc, ValidationError):
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"the delivery holds a value a run cannot take: {where}: {first['msg']}"
    if isinstance(exc, BadRequest) and exc.status_code in (HTTPStatus.NOT_FOUND, HTTPStatus.GONE):
        return f"GitHub does not know what the delivery names: {exc.status_code.value} {exc}"
    return None


def _answer_json(status: int, body: dict[str, Any], *, retry_after: bool = False) -> web.Response:
    response = web.json_response(body, status=status)
    if retry_after:
        response.headers["Retry-After"] = "5"
    return response

"""Forged and malformed webhook deliveries, each with the answer the webhook must give.

Every forgery is built around one real, signed `/code 5 --service trader` delivery from a writer who has
an SSH secret: if any of them got past the webhook, it would start a run. Used by
`test_forged_deliveries.py` and, at a larger repeat count, by the benchmarks' soak.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from multidict import CIMultiDict

from bot.sandbox.deliveries import sign, sign_sha1, webhook_headers

MIB = 1024 * 1024
LIMIT = 25 * MIB
"""`ORCHESTRATOR_MAX_BODY_BYTES` default: GitHub caps payloads at 25 MB."""

Body = bytes | Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True)
class Forgery:
    id: str
    headers: CIMultiDict[str]
    body: Callable[[], Body]
    """Built when sent, so that the 25 MiB bodies are not all held at once."""
    expected: int


def _chunked(size: int, chunk: int = 256 * 1024) -> Callable[[], AsyncIterator[bytes]]:
    """A body sent with `Transfer-Encoding: chunked`: the receiver cannot know its size in advance."""

    async def chunks() -> AsyncIterator[bytes]:
        left = size
        while left > 0:
            piece = min(chunk, left)
            yield b"x" * piece
            left -= piece

    return chunks


@functools.cache
def _wide_object() -> bytes:
    """~20 MiB of distinct keys: parsed, it would cost hundreds of MiB; unsigned, it must never be."""
    return b"{" + b",".join(b'"k%d":0' % i for i in range(2_000_000)) + b"}"


def _headers(pairs: dict[str, str] | list[tuple[str, str]]) -> CIMultiDict[str]:
    return CIMultiDict(pairs.items() if isinstance(pairs, dict) else pairs)


def _fixed(body: bytes) -> Callable[[], Body]:
    return lambda: body


def forgeries(body: bytes, secret: str, *, other_body: bytes) -> list[Forgery]:
    """The table. `body` is a real signed `/code` delivery; `other_body` another real delivery whose
    genuine signature a replayer could have captured."""
    good = webhook_headers("issue_comment", body, secret)
    signature = good["X-Hub-Signature-256"]
    hex_digest = signature.removeprefix("sha256=")
    unsigned = {k: v for k, v in good.items() if not k.startswith("X-Hub-Signature")}

    def with_signature(value: str) -> CIMultiDict[str]:
        return _headers({**unsigned, "X-Hub-Signature-256": value})

    def signed(data: bytes, event: str = "issue_comment", **changes: str | None) -> CIMultiDict[str]:
        headers: dict[str, str | None] = {**webhook_headers(event, data, secret), **changes}
        return _headers({k: v for k, v in headers.items() if v is not None})

    # Another task for the same command: still valid JSON, and a run if the webhook accepted it.
    tampered = re.sub(rb"/code (\d+)", lambda m: b"/code %d" % (int(m.group(1)) + 1), body, count=1)
    assert tampered != body, "the body must hold a /code command"
    deep_arrays = b"[" * 100_000 + b"]" * 100_000
    deep_objects = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    huge_number = b'{"action": "created", "n": ' + b"9" * 5_000 + b"}"
    big_signature = sign(b"x" * (LIMIT + 1), secret)
    not_utf8 = b'{"action": "created", "comment": {"body": "/code 5 --service \xff\xfe trader"}}'

    table: list[tuple[str, CIMultiDict[str], Callable[[], Body], int]] = [
        # --- the signature -------------------------------------------------------------------------
        ("no signature header at all", _headers(unsigned), _fixed(body), 401),
        (
            "only the legacy SHA-1 header, correctly signed",
            _headers({**unsigned, "X-Hub-Signature": sign_sha1(body, secret)}),
            _fixed(body),
            401,
        ),
        (
            "a valid SHA-1 signature in the SHA-256 header",
            with_signature(sign_sha1(body, secret)),
            _fixed(body),
            401,
        ),
        ("an empty signature", with_signature(""), _fixed(body), 401),
        ("the scheme without a digest", with_signature("sha256="), _fixed(body), 401),
        ("a digest of zeros", with_signature("sha256=" + "0" * 64), _fixed(body), 401),
        ("signed with another secret", with_signature(sign(body, secret + "x")), _fixed(body), 401),
        ("signed with an empty secret", with_signature(sign(body, "")), _fixed(body), 401),
        (
            "a plain SHA-256 of secret + body instead of an HMAC",
            with_signature("sha256=" + hashlib.sha256(secret.encode() + body).hexdigest()),
            _fixed(body),
            401,
        ),
        (
            "an HMAC-SHA512 under a sha512= scheme",
            with_signature("sha512=" + hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()),
            _fixed(body),
            401,
        ),
        ("the digest in upper case", with_signature("sha256=" + hex_digest.upper()), _fixed(body), 401),
        ("the scheme in upper case", with_signature("SHA256=" + hex_digest), _fixed(body), 401),
        ("the digest cut by one character", with_signature(signature[:-1]), _fixed(body), 401),
        ("the digest with one character more", with_signature(signature + "0"), _fixed(body), 401),
        ("the digest with non-hex characters", with_signature("sha256=" + "g" * 64), _fixed(body), 401),
        ("a space inside the signature", with_signature("sha256= " + hex_digest), _fixed(body), 401),
        ("an 8 KB signature header", with_signature("sha256=" + "a" * 8000), _fixed(body), 401),
        ("the body changed by one byte, original signature", _headers(good), _fixed(tampered), 401),
        (
            "a captured signature of another delivery on this body",
            with_signature(sign(other_body, secret)),
            _fixed(body),
            401,
        ),
        (
            "a replayed body with another delivery id and the signature of another body",
            _headers(
                {
                    **unsigned,
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": sign(other_body, secret),
                }
            ),
            _fixed(body),
            401,
        ),
        (
            "two signature headers, the first forged",
            _headers(
                [
                    *unsigned.items(),
                    ("X-Hub-Signature-256", "sha256=" + "0" * 64),
                    ("X-Hub-Signature-256", signature),
                ]
            ),
            _fixed(body),
            401,
        ),
        # --- GitHub's other headers ---------------------------------------------------------------
        ("no X-GitHub-Event", signed(body, **{"X-GitHub-Event": None}), _fixed(body), 400),
        ("no X-GitHub-Delivery", signed(body, **{"X-GitHub-Delivery": None}), _fixed(body), 400),
        ("an empty X-GitHub-Event", signed(body, **{"X-GitHub-Event": ""}), _fixed(body), 400),
        ("an empty X-GitHub-Delivery", signed(body, **{"X-GitHub-Delivery": ""}), _fixed(body), 400),
        (
            "a 16 KB X-GitHub-Event header",
            signed(body, **{"X-GitHub-Event": "e" * 16_000}),
            _fixed(body),
            400,
        ),
        (
            "a 16 KB X-GitHub-Delivery header",
            signed(body, **{"X-GitHub-Delivery": "d" * 16_000}),
            _fixed(body),
            400,
        ),
        (
            "300 extra headers",
            _headers([*good.items(), *((f"X-Extra-{i}", "v") for i in range(300))]),
            _fixed(body),
            400,
        ),
        # --- bodies that are not a JSON object (correctly signed) ----------------------------------
        ("an empty body", signed(b""), _fixed(b""), 400),
        (
            "a body that is not JSON",
            signed(b"/code 5 --service trader"),
            _fixed(b"/code 5 --service trader"),
            400,
        ),
        ("a body that is not UTF-8", signed(not_utf8), _fixed(not_utf8), 400),
        ("JSON cut in half", signed(body[: len(body) // 2]), _fixed(body[: len(body) // 2]), 400),
        ("JSON with trailing garbage", signed(body + b"}{"), _fixed(body + b"}{"), 400),
        ("a JSON array", signed(b"[" + body + b"]"), _fixed(b"[" + body + b"]"), 400),
        ("a JSON string", signed(b'"issue_comment"'), _fixed(b'"issue_comment"'), 400),
        ("JSON null", signed(b"null"), _fixed(b"null"), 400),
        ("100,000 nested arrays", signed(deep_arrays), _fixed(deep_arrays), 400),
        ("50,000 nested objects", signed(deep_objects), _fixed(deep_objects), 400),
        ("a 5,000-digit number", signed(huge_number), _fixed(huge_number), 400),
        # --- size ----------------------------------------------------------------------------------
        (
            "a 20 MiB JSON bomb of 2 million keys, forged signature",
            with_signature("sha256=" + "0" * 64),
            _wide_object,
            401,
        ),
        (
            "exactly 25 MiB, forged signature (the limit is inclusive)",
            with_signature("sha256=" + "0" * 64),
            lambda: b"x" * LIMIT,
            401,
        ),
        (
            "25 MiB + 1 byte with Content-Length",
            with_signature("sha256=" + "0" * 64),
            lambda: b"x" * (LIMIT + 1),
            413,
        ),
        ("25 MiB + 1 byte, chunked", with_signature("sha256=" + "0" * 64), lambda: _chunked(LIMIT + 1), 413),
        ("25 MiB + 1 byte, correctly signed", with_signature(big_signature), lambda: b"x" * (LIMIT + 1), 413),
    ]
    return [Forgery(id_, headers, make, expected) for id_, headers, make, expected in table]


async def send(session: aiohttp.ClientSession, url: str, forgery: Forgery) -> tuple[int, str]:
    """POST one forgery; returns the status and the answer's text."""
    body = forgery.body()
    data = body() if callable(body) else body
    async with session.post(
        url, data=data, headers=forgery.headers, timeout=aiohttp.ClientTimeout(total=60)
    ) as response:
        return response.status, await response.text()


def json_body(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Mismatch:
    id: str
    expected: int
    status: int
    answer: str


async def send_all(
    session: aiohttp.ClientSession, url: str, table: list[Forgery], rounds: int = 1
) -> list[Mismatch]:
    """Send the table `rounds` times, one forgery at a time; every answer that was not the expected one."""
    wrong: list[Mismatch] = []
    for _ in range(rounds):
        for forgery in table:
            status, answer = await send(session, url, forgery)
            if status != forgery.expected:
                wrong.append(Mismatch(forgery.id, forgery.expected, status, answer[:300]))
    return wrong


@dataclass(frozen=True)
class ForgedSoakReport:
    sent: int
    mismatches: list[Mismatch]
    runs: int
    rss_fresh: int
    rss_after: int
    rss_peak: int


async def forged_soak(rounds: int, workdir: Path) -> ForgedSoakReport:
    """The whole table `rounds` times against a fresh `serve` process (for `python -m benchmarks`)."""
    from bot.sandbox.processes import BotProcess, stack_environment
    from bot.sandbox.stack import WEBHOOK_SECRET, running_stack
    from tests.flows.conftest import api_client_for

    from .observe import all_runs

    async with (
        running_stack(controller=False) as stack,
        await api_client_for(stack) as api,
        aiohttp.ClientSession() as session,
    ):
        serve = BotProcess.serve(stack_environment(stack), workdir / "serve.log")
        serve.start()
        try:
            await serve.wait_ready(session)
            real = stack.comment_payload(5, "alice", "/code 5 --service trader")
            other = stack.comment_payload(5, "carol", "/docs")
            table = forgeries(json_body(real), WEBHOOK_SECRET, other_body=json_body(other))
            fresh = serve.rss_bytes()
            wrong = await send_all(session, serve.webhook_url, table, rounds)
            return ForgedSoakReport(
                sent=len(table) * rounds,
                mismatches=wrong,
                runs=len(await all_runs(api)),
                rss_fresh=fresh,
                rss_after=serve.rss_bytes(),
                rss_peak=serve.peak_rss_bytes(),
            )
        finally:
            serve.close()

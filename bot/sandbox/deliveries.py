"""Signed webhook deliveries, sent the way GitHub sends them.

Used by the local GitHub API (`LocalGitHubAPI.deliver` and redeliveries), the demo, the benchmarks and
the tests. The headers are the ones GitHub documents for webhook deliveries: the event name, a delivery
GUID, HMAC signatures of the raw body (SHA-256, and the legacy SHA-1 that GitHub still sends), the
Hookshot user agent and the hook / installation-target identifiers of a GitHub App's webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp

HOOKSHOT_USER_AGENT = "GitHub-Hookshot/7a1c2f3"
DEFAULT_HOOK_ID = 424242
DELIVERY_TIMEOUT_SECONDS = 10.0
"""GitHub gives a receiver 10 seconds before it records the delivery as timed out."""


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value: `sha256=` + HMAC-SHA256 of the raw body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_sha1(body: bytes, secret: str) -> str:
    """The legacy `X-Hub-Signature` value (`sha1=`…), which GitHub sends alongside the SHA-256 one."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def encode_payload(payload: Mapping[str, Any] | bytes) -> bytes:
    """The body as sent: bytes unchanged, a mapping as compact UTF-8 JSON."""
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_headers(
    event: str,
    body: bytes,
    secret: str | None,
    delivery_guid: str | None = None,
    *,
    hook_id: int = DEFAULT_HOOK_ID,
    target_type: str = "integration",
    target_id: int | str | None = None,
) -> dict[str, str]:
    """The headers of one delivery of `body`. With `secret=None` no signatures are sent (a hook
    configured without a secret), which the bot must refuse."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": HOOKSHOT_USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_guid or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": target_type,
    }
    if target_id is not None:
        headers["X-GitHub-Hook-Installation-Target-ID"] = str(target_id)
    if secret is not None:
        headers["X-Hub-Signature"] = sign_sha1(body, secret)
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return headers


async def send_webhook(
    session: aiohttp.ClientSession,
    url: str,
    event: str,
    payload_or_bytes: Mapping[str, Any] | bytes,
    secret: str | None,
    delivery_guid: str | None = None,
    *,
    hook_id: int = DEFAULT_HOOK_ID,
    target_id: int | str | None = None,
    receiver_timeout: float = DELIVERY_TIMEOUT_SECONDS,
) -> tuple[int, str]:
    """POST one signed delivery to `url`; returns the receiver's status and body text.

    Connection errors and timeouts propagate (aiohttp.ClientError / asyncio.TimeoutError), so the
    caller decides how to record them.
    """
    body = encode_payload(payload_or_bytes)
    headers = webhook_headers(event, body, secret, delivery_guid, hook_id=hook_id, target_id=target_id)
    async with session.post(
        url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=receiver_timeout)
    ) as response:
        return response.status, await response.text()

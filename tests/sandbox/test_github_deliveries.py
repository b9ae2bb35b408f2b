"""Signed webhook deliveries: the signature, GitHub's headers, and the App's delivery log with
redelivery, received by a real aiohttp receiver and read back through gidgethub."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from gidgethub import BadRequest, apps, sansio
from gidgethub.aiohttp import GitHubAPI

from bot.sandbox import payloads
from bot.sandbox.deliveries import send_webhook, sign, webhook_headers
from bot.sandbox.github import LocalGitHubAPI
from tests.sandbox.github_fixtures import github_client, local_github

SECRET = "It's a Secret to Everybody"


@dataclass
class Receiver:
    """A webhook endpoint that records what it got and answers the statuses it is told to."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"outcome": "recorded"}, status=status)


@pytest.fixture
async def receiver(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> AsyncIterator[tuple[Receiver, str]]:
    endpoint = Receiver()
    app = web.Application()
    app.router.add_post("/webhook", endpoint.handle)
    server = await aiohttp_server(app)
    yield endpoint, str(server.make_url("/webhook"))


@pytest.fixture
async def gh(receiver: tuple[Receiver, str]) -> AsyncIterator[LocalGitHubAPI]:
    async with local_github(webhook_url=receiver[1], webhook_secret=SECRET) as server:
        yield server


@pytest.fixture
async def api(gh: LocalGitHubAPI) -> AsyncIterator[GitHubAPI]:
    async with github_client(gh) as client:
        yield client


def jwt_for(gh: LocalGitHubAPI) -> str:
    return apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)


def comment_delivery(gh: LocalGitHubAPI) -> dict[str, object]:
    repo = payloads.RepoRef.parse("demo-org/trader")
    comment = gh.add_comment(repo, 5, "alice", "/code 5 --service trader")
    return payloads.issue_comment_created(repo, 5, comment, "alice", installation_id=1, api_url=gh.url)


# --- signatures and headers ---------------------------------------------------------------------------


def test_sign_matches_githubs_published_test_vector() -> None:
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!", SECRET) == expected


def test_webhook_headers_are_the_ones_github_sends() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    headers = webhook_headers("ping", body, SECRET, target_id=12345)
    assert headers["X-GitHub-Event"] == "ping"
    assert uuid.UUID(headers["X-GitHub-Delivery"]).version == 4
    assert headers["X-Hub-Signature-256"] == sign(body, SECRET)
    assert headers["X-Hub-Signature"].startswith("sha1=")
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert headers["X-GitHub-Hook-Installation-Target-ID"] == "12345"
    assert headers["X-GitHub-Hook-ID"].isdigit()
    sansio.validate_event(body, signature=headers["X-Hub-Signature-256"], secret=SECRET)
    sansio.validate_event(body, signature=headers["X-Hub-Signature"], secret=SECRET)


def test_hook_without_secret_sends_no_signatures() -> None:
    headers = webhook_headers("ping", b"{}", None, "fixed-guid")
    assert "X-Hub-Signature-256" not in headers and "X-Hub-Signature" not in headers
    assert headers["X-GitHub-Delivery"] == "fixed-guid"


async def test_send_webhook_posts_the_signed_body(receiver: tuple[Receiver, str]) -> None:
    endpoint, url = receiver
    payload = payloads.ping(app_id=12345)
    async with aiohttp.ClientSession() as session:
        status, text = await send_webhook(session, url, "ping", payload, SECRET, "guid-1")
    assert (status, json.loads(text)) == (200, {"outcome": "recorded"})
    [(headers, body)] = endpoint.received
    assert json.loads(body) == payload
    assert headers["X-GitHub-Delivery"] == "guid-1"
    sansio.validate_event(body, signature=headers["X-Hub-Signature-256"], secret=SECRET)


# --- the App's delivery log -----------------------------------------------------------------------------


async def test_failed_delivery_is_listed_and_redelivered_with_the_same_guid(
    gh: LocalGitHubAPI, api: GitHubAPI, receiver: tuple[Receiver, str]
) -> None:
    endpoint, _ = receiver
    endpoint.statuses = [503]
    first = await gh.deliver("issue_comment", comment_delivery(gh))
    assert (first.status_code, first.status, first.redelivery) == (503, "Invalid HTTP Response: 503", False)

    listed = [d async for d in api.getiter("/app/hook/deliveries", jwt=jwt_for(gh))]
    assert [(d["guid"], d["status_code"], d["event"], d["action"]) for d in listed] == [
        (first.guid, 503, "issue_comment", "created")
    ]
    assert (listed[0]["installation_id"], listed[0]["repository_id"]) == (
        1,
        payloads.RepoRef.parse("demo-org/trader").repo_id,
    )

    await api.post(f"/app/hook/deliveries/{first.id}/attempts", data=b"", jwt=jwt_for(gh))
    assert gh.calls[-1].status == 202
    await gh.wait_for_deliveries()

    guids = [headers["X-GitHub-Delivery"] for headers, _ in endpoint.received]
    assert guids == [first.guid, first.guid]
    for headers, body in endpoint.received:
        sansio.validate_event(body, signature=headers["X-Hub-Signature-256"], secret=SECRET)
    assert endpoint.received[0][1] == endpoint.received[1][1]

    newest, oldest = [d async for d in api.getiter("/app/hook/deliveries", jwt=jwt_for(gh))]
    assert (newest["guid"], newest["redelivery"], newest["status_code"], newest["status"]) == (
        first.guid,
        True,
        200,
        "OK",
    )
    assert (oldest["id"], oldest["redelivery"]) == (first.id, False)
    assert newest["id"] != oldest["id"]
    assert gh.response_problems() == []


async def test_delivery_details_show_the_request_and_response(gh: LocalGitHubAPI, api: GitHubAPI) -> None:
    record = await gh.deliver("ping", payloads.ping(app_id=gh.app_id))
    details = await api.getitem(f"/app/hook/deliveries/{record.id}", jwt=jwt_for(gh))
    assert details["request"]["payload"]["hook"]["app_id"] == gh.app_id
    assert details["request"]["headers"]["X-GitHub-Delivery"] == record.guid
    assert json.loads(details["response"]["payload"]) == {"outcome": "recorded"}
    assert gh.response_problems() == []


async def test_deliveries_page_newest_first_with_a_cursor(gh: LocalGitHubAPI, api: GitHubAPI) -> None:
    records = [await gh.deliver("ping", payloads.ping(app_id=gh.app_id)) for _ in range(3)]
    listed = [d["id"] async for d in api.getiter("/app/hook/deliveries?per_page=2", jwt=jwt_for(gh))]
    assert listed == [r.id for r in reversed(records)]
    assert "cursor" in gh.calls[-1].query


async def test_deliveries_filtered_by_outcome(
    gh: LocalGitHubAPI, api: GitHubAPI, receiver: tuple[Receiver, str]
) -> None:
    receiver[0].statuses = [500, 200]
    failed = await gh.deliver("ping", payloads.ping(app_id=gh.app_id))
    await gh.deliver("ping", payloads.ping(app_id=gh.app_id))
    failures = await api.getitem("/app/hook/deliveries?status=failure", jwt=jwt_for(gh))
    assert [d["id"] for d in failures] == [failed.id]


async def test_unreachable_receiver_is_recorded_as_failed_to_connect() -> None:
    async with local_github(webhook_url="http://127.0.0.1:9/webhook", webhook_secret=SECRET) as gh:
        record = await gh.deliver("ping", payloads.ping(app_id=gh.app_id))
    assert (record.status, record.status_code) == ("failed to connect", 0)


async def test_redelivery_of_an_unknown_delivery_is_not_found(gh: LocalGitHubAPI, api: GitHubAPI) -> None:
    with pytest.raises(BadRequest, match="Not Found"):
        await api.post("/app/hook/deliveries/1/attempts", data=b"", jwt=jwt_for(gh))

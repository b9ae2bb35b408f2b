"""App JWTs, installation tokens and collaborator permissions, through gidgethub over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from gidgethub import BadRequest, apps
from gidgethub.aiohttp import GitHubAPI

from bot.sandbox.github import LocalGitHubAPI
from bot.sandbox.github.auth import JWT_BAD_IAT, JWT_EXPIRED, JWT_TOO_LONG, JWT_UNDECODABLE
from tests.sandbox.github_fixtures import (
    OTHER_INSTALLATION,
    github_client,
    installation_token,
    local_github,
    stranger_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def gh(clock: Clock) -> AsyncIterator[LocalGitHubAPI]:
    async with local_github(clock=clock) as server:
        yield server


@pytest.fixture
async def api(gh: LocalGitHubAPI) -> AsyncIterator[GitHubAPI]:
    async with github_client(gh) as client:
        yield client


async def refused(
    api: GitHubAPI, url: str, *, jwt: str | None = None, oauth_token: str | None = None
) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        await api.getitem(url, jwt=jwt, oauth_token=oauth_token)
    return caught.value


# --- the App's JWT ------------------------------------------------------------------------------------


async def test_app_jwt_from_gidgethub_is_accepted(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    app = await api.getitem("/app", jwt=token)
    assert app["id"] == gh.app_id
    assert gh.calls[-1].principal == "app"


async def test_jwt_with_numeric_iss_is_accepted(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    now = int(time.time())
    token = pyjwt_encode({"iat": now - 60, "exp": now + 300, "iss": gh.app_id}, gh.private_key_pem)
    assert (await api.getitem("/app/installations/1", jwt=token))["id"] == 1


async def test_jwt_with_client_id_as_iss_is_accepted(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = apps.get_jwt(app_id=gh.client_id, private_key=gh.private_key_pem)
    assert (await api.getitem("/app", jwt=token))["client_id"] == gh.client_id


async def test_expired_jwt_is_refused(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem, expiration=-5)
    error = await refused(api, "/app", jwt=token)
    assert error.status_code == 401
    assert str(error) == JWT_EXPIRED


async def test_jwt_expiring_more_than_ten_minutes_ahead_is_refused(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem, expiration=3600)
    error = await refused(api, "/app", jwt=token)
    assert (error.status_code, str(error)) == (401, JWT_TOO_LONG)


async def test_jwt_issued_in_the_future_is_refused(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    now = int(time.time())
    token = pyjwt_encode({"iat": now + 120, "exp": now + 300, "iss": str(gh.app_id)}, gh.private_key_pem)
    assert str(await refused(api, "/app", jwt=token)) == JWT_BAD_IAT


async def test_jwt_signed_with_another_key_is_refused(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id), private_key=stranger_key())
    error = await refused(api, "/app/installations/1", jwt=token)
    assert (error.status_code, str(error)) == (401, JWT_UNDECODABLE)


async def test_jwt_for_another_app_is_refused(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id + 1), private_key=gh.private_key_pem)
    assert (await refused(api, "/app", jwt=token)).status_code == 401


async def test_app_endpoints_refuse_installation_tokens(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = await installation_token(api, gh)
    assert (await refused(api, "/app/hook/deliveries", oauth_token=token)).status_code == 401


async def test_repository_endpoints_need_an_installation_token_not_the_jwt(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    error = await refused(api, "/repos/demo-org/trader/issues/5", jwt=token)
    assert error.status_code == 403


async def test_repo_installation_lookup_with_the_jwt(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    installation = await api.getitem("/repos/other-org/secret/installation", jwt=token)
    assert (installation["id"], installation["account"]["login"]) == (OTHER_INSTALLATION, "other-org")


# --- installation tokens --------------------------------------------------------------------------------


async def test_installation_token_has_githubs_shape(api: GitHubAPI, gh: LocalGitHubAPI, clock: Clock) -> None:
    response = await apps.get_installation_access_token(
        api, installation_id="1", app_id=str(gh.app_id), private_key=gh.private_key_pem
    )
    assert response["token"].startswith("ghs_") and len(response["token"]) == 40
    assert response["expires_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(clock.now) + 3600))
    assert response["permissions"]["issues"] == "write"
    assert gh.response_problems() == []


async def test_token_reads_and_writes_its_installations_repositories(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    token = await installation_token(api, gh)
    assert (await api.getitem("/repos/demo-org/vault", oauth_token=token))["private"] is True
    await api.post("/repos/demo-org/trader/issues/5/comments", data={"body": "hi"}, oauth_token=token)


async def test_token_cannot_see_another_installations_private_repository(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    token = await installation_token(api, gh)
    assert (await refused(api, "/repos/other-org/secret/issues/1", oauth_token=token)).status_code == 404


async def test_token_may_read_but_not_write_another_installations_public_repository(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    token = await installation_token(api, gh)
    assert (await api.getitem("/repos/other-org/open/issues/1", oauth_token=token))["title"] == "Visible"
    with pytest.raises(BadRequest) as caught:
        await api.post("/repos/other-org/open/issues/1/comments", data={"body": "hi"}, oauth_token=token)
    assert caught.value.status_code == 403


async def test_token_narrowed_to_one_repository_cannot_reach_the_others(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    jwt = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    response = await api.post(
        "/app/installations/1/access_tokens", data={"repositories": ["trader"]}, jwt=jwt
    )
    assert [repo["full_name"] for repo in response["repositories"]] == ["demo-org/trader"]
    assert (await refused(api, "/repos/demo-org/vault", oauth_token=response["token"])).status_code == 404


async def test_token_with_read_only_issues_cannot_comment(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    jwt = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    response = await api.post(
        "/app/installations/1/access_tokens", data={"permissions": {"issues": "read"}}, jwt=jwt
    )
    with pytest.raises(BadRequest) as caught:
        await api.post(
            "/repos/demo-org/trader/issues/5/comments", data={"body": "hi"}, oauth_token=response["token"]
        )
    assert (caught.value.status_code, str(caught.value)) == (403, "Resource not accessible by integration")


async def test_token_for_a_repository_outside_the_installation_is_refused(
    api: GitHubAPI, gh: LocalGitHubAPI
) -> None:
    jwt = apps.get_jwt(app_id=str(gh.app_id), private_key=gh.private_key_pem)
    with pytest.raises(BadRequest) as caught:
        await api.post("/app/installations/1/access_tokens", data={"repositories": ["secret"]}, jwt=jwt)
    assert caught.value.status_code == 422


async def test_expired_installation_token_is_bad_credentials(
    api: GitHubAPI, gh: LocalGitHubAPI, clock: Clock
) -> None:
    token = await installation_token(api, gh)
    clock.now += 3601
    error = await refused(api, "/repos/demo-org/trader", oauth_token=token)
    assert (error.status_code, str(error)) == (401, "Bad credentials")


async def test_token_is_accepted_as_bearer_too(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = await installation_token(api, gh)
    repo = await api.getitem("/repos/demo-org/trader", extra_headers={"authorization": f"Bearer {token}"})
    assert repo["full_name"] == "demo-org/trader"


async def test_anonymous_callers_see_public_repositories_only(api: GitHubAPI) -> None:
    assert (await api.getitem("/repos/demo-org/trader"))["full_name"] == "demo-org/trader"
    assert (await refused(api, "/repos/demo-org/vault")).status_code == 404


# --- collaborator permissions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "permission", "role_name"),
    [
        pytest.param("erin", "admin", "admin", id="admin"),
        pytest.param("carol", "write", "maintain", id="maintain reads as write"),
        pytest.param("alice", "write", "write", id="write"),
        pytest.param("dave", "read", "triage", id="triage reads as read"),
        pytest.param("bob", "read", "read", id="read"),
        pytest.param("mallory", "read", "read", id="no grant on a public repository"),
    ],
)
async def test_collaborator_permission_answers_like_github(
    api: GitHubAPI, gh: LocalGitHubAPI, login: str, permission: str, role_name: str
) -> None:
    token = await installation_token(api, gh)
    answer = await api.getitem(f"/repos/demo-org/trader/collaborators/{login}/permission", oauth_token=token)
    assert (answer["permission"], answer["role_name"], answer["user"]["login"]) == (
        permission,
        role_name,
        login,
    )
    assert gh.response_problems() == []


async def test_no_grant_on_a_private_repository_is_none(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = await installation_token(api, gh)
    answer = await api.getitem("/repos/demo-org/vault/collaborators/mallory/permission", oauth_token=token)
    assert (answer["permission"], answer["role_name"]) == ("none", "none")


async def test_permission_of_an_unknown_user_is_not_found(api: GitHubAPI, gh: LocalGitHubAPI) -> None:
    token = await installation_token(api, gh)
    error = await refused(
        api, "/repos/demo-org/trader/collaborators/nobody-here/permission", oauth_token=token
    )
    assert (error.status_code, str(error)) == (404, "nobody-here is not a user")


def pyjwt_encode(claims: dict[str, object], key: str) -> str:
    """A JWT with exactly these claims (PyJWT's `encode` refuses a numeric `iss`; GitHub takes it)."""
    return jwt.api_jws.encode(json.dumps(claims).encode(), key, algorithm="RS256")

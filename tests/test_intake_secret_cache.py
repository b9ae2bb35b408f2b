"""serve remembers a sender's complete SSH secret for a minute (one Kubernetes request per warm
command instead of two), and never remembers a missing one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio import client

from bot.core.policy import SSH_PRIVATE_KEY, SSH_PUBLIC_KEY, ssh_secret_name
from bot.sandbox.stack import NAMESPACE, Stack, running_stack
from tests.flows.conftest import api_client_for


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with running_stack(controller=False) as running:
        yield running


async def first_outcome(stack: Stack, user: str, body: str) -> str:
    status, answer = await stack.comment(issue=5, user=user, body=body)
    assert status == 200, answer
    done: list[str] = json.loads(answer)["done"]
    return done[0]


async def test_a_complete_secret_is_remembered_for_a_minute(stack: Stack) -> None:
    assert (await first_outcome(stack, "alice", "/code 5 --service trader")).startswith("created")
    async with await api_client_for(stack) as api:
        await client.CoreV1Api(api).delete_namespaced_secret(ssh_secret_name("alice"), NAMESPACE)
    secret_reads = len([r for r in stack.kube.requests if r.resource == "secrets"])
    assert (await first_outcome(stack, "alice", "/code 6 --service trader")).startswith("created")
    assert len([r for r in stack.kube.requests if r.resource == "secrets"]) == secret_reads


async def test_a_missing_secret_is_not_remembered(stack: Stack) -> None:
    stack.gh.set_permission(stack.scene.repo, "frank", "write")
    assert await first_outcome(stack, "frank", "/code 5 --service trader") == "no SSH secret for frank"
    stack.kube.apply_manifest(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": ssh_secret_name("frank"), "namespace": NAMESPACE},
            "stringData": {SSH_PRIVATE_KEY: "key of frank", SSH_PUBLIC_KEY: "ssh-ed25519 AAAA frank"},
        }
    )
    assert (await first_outcome(stack, "frank", "/code 5 --service trader")).startswith("created")

"""What the tests look at in the local Kubernetes API (importable without pytest, for the soaks)."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from bot.core.resources import GROUP, PLURALS, VERSION
from bot.sandbox.stack import NAMESPACE


async def all_runs(api: client.ApiClient) -> list[dict[str, Any]]:
    """Every DocsRun and CodeRun in the namespace."""
    found: list[dict[str, Any]] = []
    for kind in ("CodeRun", "DocsRun"):
        answer = await client.CustomObjectsApi(api).list_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, PLURALS[kind]
        )
        found.extend(answer["items"])
    return found


async def all_jobs(api: client.ApiClient) -> list[dict[str, Any]]:
    """Every Job in the namespace, as plain dicts."""
    jobs = await client.BatchV1Api(api).list_namespaced_job(NAMESPACE)
    return [api.sanitize_for_serialization(job) for job in jobs.items]

"""The controller's small HTTP side: `/healthz` for the kubelet and `/metrics` for Prometheus.

The webhook service has its own (bot/webhook.py); this one reports whether the controller's loop is
alive, whether this replica holds the Lease, and what it has reconciled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest


@dataclass
class ControllerMetrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        self.reconciles = Counter(
            "orchestrator_controller_reconciles",
            "Runs reconciled, by outcome (ok, retry, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.leading = Gauge(
            "orchestrator_controller_leading", "1 while this replica holds the Lease.", registry=self.registry
        )
        self.queue_depth = Gauge(
            "orchestrator_controller_queue_depth", "Runs waiting to be reconciled.", registry=self.registry
        )


def health_app(
    metrics: ControllerMetrics,
    identity: str,
    leading: Callable[[], bool],
    queued: Callable[[], int],
    details: Mapping[str, Callable[[], Any]] | None = None,
) -> web.Application:
    """`details`: more parts shown by `/readyz` (the run store's writer), each as its callable says."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "identity": identity, "leading": leading()})

    async def readyz(request: web.Request) -> web.Response:
        # Always ready: a store outage degrades the run page, not the controller's work on GitHub.
        shown = {name: detail() for name, detail in (details or {}).items()}
        return web.json_response({"status": "ready", "identity": identity, "leading": leading(), **shown})

    async def metrics_endpoint(request: web.Request) -> web.Response:
        metrics.leading.set(1 if leading() else 0)
        metrics.queue_depth.set(queued())
        response = web.Response(body=generate_latest(metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app

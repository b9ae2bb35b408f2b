"""Prometheus metrics. Each app gets its own registry so several apps (tests, the demo) can run in one
process without clashing on metric names."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class WebhookMetrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        self.deliveries = Counter(
            "orchestrator_webhook_deliveries",
            "Webhook deliveries received, by GitHub event and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "orchestrator_webhook_request_seconds",
            "Time from receiving a webhook request to answering it.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.handler_errors = Counter(
            "orchestrator_webhook_handler_errors",
            "Exceptions raised by event handlers, by GitHub event.",
            ["event"],
            registry=self.registry,
        )
        self.runs_created = Counter(
            "orchestrator_runs_created",
            "Runs created by the webhook service, by kind; a 409 on an already created run is not counted.",
            ["kind"],
            registry=self.registry,
        )

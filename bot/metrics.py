"""Prometheus metrics. Each app gets its own registry so several apps (tests, the demo) can run in one
process without clashing on metric names.

What every delivery touches (its count by event and outcome, and its answer time) is kept in plain
integers and lists and handed to Prometheus only when `/metrics` is scraped: prometheus_client's
`Counter.inc` and `Histogram.observe` take a lock each and cost a measured ~8 µs per delivery in
`serve`, about a seventh of what the bare HMAC-checking floor spends on a whole delivery
(benchmarks/README.md). `serve` is one thread on one event loop, so nothing here needs a lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Latencies:
    """One histogram's state: a count per bucket (the last is +Inf) and the sum."""

    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        bounds = [*(repr(bound) for bound in LATENCY_BUCKETS), "+Inf"]
        running, found = 0, []
        for bound, count in zip(bounds, self.buckets, strict=True):
            running += count
            found.append((bound, float(running)))
        return found


class DeliveryStats(Collector):
    """Deliveries by (event, outcome) and answer times by outcome, as plain numbers; exported as
    `orchestrator_webhook_deliveries_total` and `orchestrator_webhook_request_seconds`."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.latencies: dict[str, Latencies] = {}

    def record(self, event: str, outcome: str, seconds: float) -> None:
        key = (event, outcome)
        self.counts[key] = self.counts.get(key, 0) + 1
        latencies = self.latencies.get(outcome)
        if latencies is None:
            latencies = self.latencies[outcome] = Latencies()
        latencies.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "orchestrator_webhook_deliveries",
            "Webhook deliveries received, by GitHub event and outcome.",
            labels=["event", "outcome"],
        )
        for (event, outcome), count in sorted(self.counts.items()):
            deliveries.add_metric([event, outcome], count)
        yield deliveries
        seconds = HistogramMetricFamily(
            "orchestrator_webhook_request_seconds",
            "Time from receiving a webhook request to answering it.",
            labels=["outcome"],
        )
        for outcome, latencies in sorted(self.latencies.items()):
            seconds.add_metric([outcome], latencies.cumulative(), latencies.total)
        yield seconds

    def describe(self) -> Iterator[Metric]:
        return self.collect()


@dataclass
class WebhookMetrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        self.deliveries = DeliveryStats()
        self.registry.register(self.deliveries)
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

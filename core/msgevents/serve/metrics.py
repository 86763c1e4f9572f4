"""``GET /metrics``: the receiver's counters in the Prometheus text format.

prometheus_client (the Prometheus project's own Python client, no dependencies) writes
the exposition format — escaping, ``# HELP``/``# TYPE`` lines, histogram buckets and
``_sum``/``_count`` — which is easy to get subtly wrong by hand. Each application has
its own registry (never the process-global default), so two apps in one process, or
the tests, do not share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Requests by provider and status, events by outcome, outbox depth and delivery lag."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "msgevents_serve_requests",
            "Webhook requests answered, by provider and HTTP status.",
            ["provider", "status"],
            registry=registry,
        )
        self.events = Counter(
            "msgevents_serve_events",
            "Events by outcome: accepted (committed to the outbox), quarantined, not_modelled, "
            "delivered, already_delivered, rejected (refused by the sink).",
            ["provider", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "msgevents_serve_request_seconds",
            "Time from reading a webhook request to answering it (durable acknowledgement included).",
            ["provider"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        self.group = Histogram(
            "msgevents_serve_commit_group_requests",
            "Requests committed together in one transaction (group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=registry,
        )
        self.outbox = Gauge(
            "msgevents_serve_outbox_events", "Events waiting in the outbox for the sink.", registry=registry
        )
        self.lag = Gauge(
            "msgevents_serve_delivery_lag_seconds",
            "Age of the oldest event waiting in the outbox (0 when it is empty).",
            registry=registry,
        )

    def request(self, provider: str, status: int, seconds: float | None = None) -> None:
        self.requests.labels(provider, str(status)).inc()
        if seconds is not None:
            self.latency.labels(provider).observe(seconds)

    def count(self, provider: str, outcome: str, amount: int) -> None:
        if amount:
            self.events.labels(provider, outcome).inc(amount)

    def render(self, outbox: int, lag: float) -> bytes:
        self.outbox.set(outbox)
        self.lag.set(lag)
        return generate_latest(self.registry)

"""Prometheus metrics of one app, in its own registry (two apps in a process never mix their counts)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServeMetrics:
    """Requests by model and status, latency, batch sizes, predict time and queue depth."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("tasuki_requests", "Prediction requests by model and HTTP status",
                                ["model", "status"], registry=self.registry)
        self.latency = Histogram("tasuki_request_seconds", "Prediction request latency (queue + batch + reply)",
                                 ["model"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_requests = Histogram("tasuki_batch_requests", "Requests run together in one predict call",
                                        ["model"], buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_inputs = Histogram("tasuki_batch_inputs", "Inputs (texts, questions...) in one predict call",
                                      ["model"], buckets=SIZE_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("tasuki_batch_seconds", "Time of one predict call",
                                       ["model"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("tasuki_queue_depth", "Requests waiting for a batch", ["model"],
                                 registry=self.registry)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)

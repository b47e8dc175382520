"""What the service reports about itself: ``GET /metrics`` for Prometheus, ``GET /metrics.json``
for people and scripts.

``/metrics`` is the Prometheus text format (OpenMetrics when the scraper asks for it), written by
prometheus-client from a registry of the app's own — never the process-wide default one — so two
apps in one process (tests, or two models) keep separate counts:

- ``visionblocks_requests_total{route, status, format}``: every HTTP request answered; ``format``
  is the body format of a ``/score`` request (``json``, ``multipart``, ``image``), ``none`` for
  other routes and for requests refused before their body was read;
- ``visionblocks_request_duration_seconds{route}``: a latency histogram;
- ``visionblocks_images_scored_total``;
- ``visionblocks_batch_size``: a histogram of the images in each forward pass;
- ``visionblocks_queued_images``: images waiting for or in a forward pass, now;
- ``visionblocks_model_info{architecture, classes, precision, device, version}``;
- the ``process_*`` metrics of prometheus-client's process collector (CPU, memory, open files).

``/metrics.json`` keeps the earlier JSON report: requests by route and status, images scored,
latency percentiles of the last :data:`WINDOW` scoring requests (memory stays flat, and the
percentiles describe recent traffic) and the batch sizes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections import deque

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.exposition import choose_encoder

from visionblocks import __version__

WINDOW = 10_000
SCORE_PATH = "/score"
METRICS_PATH = "/metrics"  # the Prometheus text; the JSON view is METRICS_PATH + ".json"
NAMESPACE = "visionblocks"
NO_FORMAT = "none"
# Seconds: from a health probe (milliseconds) to a full request of large images near the timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_FORMAT_STATE = "visionblocks_format"  # the key in the ASGI scope's state that carries a request's format


class Metrics:
    """The service's counters, for both views. :meth:`watch` adds what the batcher and the model
    tell (the queue, the batch sizes, the model's description), read at scrape time."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self._requests = Counter("requests", "HTTP requests answered, by route, status and body format.",
                                 ["route", "status", "format"], namespace=NAMESPACE, registry=self.registry)
        self._latency = Histogram("request_duration_seconds", "Time from a request's arrival to its answer.",
                                  ["route"], buckets=LATENCY_BUCKETS, namespace=NAMESPACE, registry=self.registry)
        self._images = Counter("images_scored", "Images scored.", namespace=NAMESPACE, registry=self.registry)
        ProcessCollector(registry=self.registry)
        # The JSON view's own numbers (exact recent percentiles, which a histogram cannot give).
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._by_route: Tally[tuple[str, int]] = Tally()
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self.images_scored = 0

    def watch(self, batcher, model: dict[str, str]) -> None:
        """Report ``batcher``'s queue and batch sizes and the ``model`` labels (see :func:`model_info`)."""
        Gauge("queued_images", "Images waiting for or in a forward pass.", namespace=NAMESPACE,
              registry=self.registry).set_function(lambda: batcher.pending)
        Info("model", "The model this service scores with.", namespace=NAMESPACE,
             registry=self.registry).info(model)
        self.registry.register(_BatchSizes(batcher))

    # -- recording --------------------------------------------------------------------------------
    def record(self, path: str, status: int, seconds: float, body_format: str = NO_FORMAT) -> None:
        self._requests.labels(path, str(status), body_format).inc()
        self._latency.labels(path).observe(seconds)
        with self._lock:
            self._by_route[(path, status)] += 1
            if path == SCORE_PATH:
                self._latencies.append(seconds)

    def add_images(self, count: int) -> None:
        self._images.inc(count)
        with self._lock:
            self.images_scored += count

    # -- the two views ----------------------------------------------------------------------------
    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The Prometheus text (or OpenMetrics, if ``accept`` asks for it) and its content type."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    def snapshot(self) -> dict:
        with self._lock:
            by_route: dict[str, dict[str, int]] = {}
            for (path, status), count in sorted(self._by_route.items()):
                by_route.setdefault(path, {})[str(status)] = count
            latencies = np.array(self._latencies, dtype=np.float64) * 1000.0
            images = self.images_scored
        percentiles = ({f"p{q}": round(float(np.percentile(latencies, q)), 3) for q in (50, 95, 99)}
                       if latencies.size else {"p50": None, "p95": None, "p99": None})
        return {
            "uptime_s": round(time.monotonic() - self._started, 3),
            "requests": by_route,
            "images_scored": images,
            "score_latency_ms": {**percentiles, "window": int(latencies.size)},
        }


def scorer_name(scorer) -> str:
    """The model's architecture, else the scorer's class name."""
    return (getattr(scorer, "config", {}) or {}).get("architecture") or type(scorer).__name__


def precision_name(scorer):
    """The precision the scorer runs in (``auto`` resolved), or None when it does not say."""
    precision = getattr(scorer, "precision", None)
    return getattr(precision, "name", precision)


def model_info(scorer) -> dict[str, str]:
    """The labels of ``visionblocks_model_info``: what ``/metadata`` says of the model, in short."""
    return {"architecture": str(scorer_name(scorer)),
            "classes": str(len(scorer.classes)),
            "precision": str(precision_name(scorer) or "unknown"),
            "device": str(getattr(scorer, "device", "cpu")),
            "version": __version__}


def note_format(request, body_format: str) -> None:
    """Tell the middleware the body format of this ``/score`` request (a label of its count)."""
    setattr(request.state, _FORMAT_STATE, body_format)


class _BatchSizes:
    """``visionblocks_batch_size``: the batcher's exact count of passes by size, as a histogram
    with power-of-two buckets up to its largest batch (read when scraped)."""

    def __init__(self, batcher):
        self.batcher = batcher

    def collect(self):
        sizes = self.batcher.batch_sizes()
        bounds, edge = [], 1
        while edge < self.batcher.max_batch:
            bounds.append(edge)
            edge *= 2
        bounds.append(self.batcher.max_batch)
        buckets = [(str(float(bound)), sum(n for size, n in sizes.items() if size <= bound)) for bound in bounds]
        buckets.append(("+Inf", sum(sizes.values())))
        yield HistogramMetricFamily(f"{NAMESPACE}_batch_size", "Images in one forward pass.", buckets=buckets,
                                    sum_value=sum(size * n for size, n in sizes.items()))


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request and counting it by route, status and format."""

    def __init__(self, app, metrics: Metrics, routes: set[str]):
        self.app = app
        self.metrics = metrics
        self.routes = routes  # known paths; anything else is counted as "other" (no unbounded labels)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500
        state = scope.setdefault("state", {})  # request.state writes here: the route's note_format

        async def send_with_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            path = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.record(path, status, time.perf_counter() - start, state.get(_FORMAT_STATE, NO_FORMAT))

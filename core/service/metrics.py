"""What ``GET /metrics`` reports: requests by route and status, images scored, latency percentiles.

Latencies are kept for the last :data:`WINDOW` scoring requests only, so memory stays flat and
the percentiles describe recent traffic. The batch-size histogram comes from the batcher.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

import numpy as np

WINDOW = 10_000
SCORE_PATH = "/score"


class Metrics:
    def __init__(self):
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._requests: Counter[tuple[str, int]] = Counter()
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self.images_scored = 0

    def record(self, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(path, status)] += 1
            if path == SCORE_PATH:
                self._latencies.append(seconds)

    def add_images(self, count: int) -> None:
        with self._lock:
            self.images_scored += count

    def snapshot(self) -> dict:
        with self._lock:
            by_route: dict[str, dict[str, int]] = {}
            for (path, status), count in sorted(self._requests.items()):
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


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request and counting it by route and status."""

    def __init__(self, app, metrics: Metrics, routes: set[str]):
        self.app = app
        self.metrics = metrics
        self.routes = routes  # known paths; anything else is counted as "other" (no unbounded keys)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_with_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            path = scope["path"] if scope["path"] in self.routes else "other"
            self.metrics.record(path, status, time.perf_counter() - start)

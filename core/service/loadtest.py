"""A bounded load test of a running scoring service: throughput, latency percentiles, errors.

``concurrency`` clients send multipart requests of ``images_per_request`` images each, round-robin
over the given images, until ``requests`` have been sent or ``time_limit_s`` has passed (whichever
comes first; a request in flight then still finishes, within ``timeout_s``). Meanwhile a probe
asks ``/health`` ten times a second, which shows whether the service stays responsive under load.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field

import httpx
import numpy as np

HEALTH_PROBE_INTERVAL_S = 0.1


@dataclass
class LoadtestReport:
    url: str
    concurrency: int
    images_per_request: int
    sent: int = 0
    ok: int = 0
    images: int = 0                                  # images scored (in successful requests)
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # HTTP status or exception name -> count
    latencies_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def latency(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    def health(self, q: float) -> float | None:
        return float(np.percentile(self.health_ms, q)) if self.health_ms else None

    def as_dict(self) -> dict:
        return {
            "url": self.url, "concurrency": self.concurrency, "images_per_request": self.images_per_request,
            "requests_sent": self.sent, "requests_ok": self.ok, "errors": dict(self.errors),
            "images_scored": self.images, "seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 2),
            "requests_per_second": round(self.requests_per_second, 2),
            "latency_ms": {f"p{q}": _round(self.latency(q)) for q in (50, 95, 99)},
            "health_latency_ms": {"p50": _round(self.health(50)), "max": _round(max(self.health_ms, default=None)),
                                  "probes": len(self.health_ms)},
        }

    def text(self) -> str:
        d = self.as_dict()
        lat, health = d["latency_ms"], d["health_latency_ms"]
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return "\n".join([
            f"{self.url}: {self.sent} requests ({self.images_per_request} images each) at concurrency "
            f"{self.concurrency} in {self.seconds:.2f} s",
            f"  throughput  {d['images_per_second']:.1f} images/s, {d['requests_per_second']:.1f} requests/s",
            f"  latency     p50 {_ms(lat['p50'])}, p95 {_ms(lat['p95'])}, p99 {_ms(lat['p99'])}",
            f"  /health     p50 {_ms(health['p50'])}, max {_ms(health['max'])} ({health['probes']} probes under load)",
            f"  errors      {errors}",
        ])


def run_loadtest(url: str, images: list[bytes], requests: int = 200, concurrency: int = 16,
                 images_per_request: int = 1, key: str | None = None, time_limit_s: float = 120.0,
                 timeout_s: float = 60.0) -> LoadtestReport:
    """Run the load test (blocking) and return its report."""
    if not images:
        raise ValueError("the load test needs at least one image")
    if min(requests, concurrency, images_per_request) < 1 or time_limit_s <= 0:
        raise ValueError("requests, concurrency and images per request must be at least 1, the time limit above 0")
    return asyncio.run(_run(url.rstrip("/").removesuffix("/score"), images, requests, concurrency,
                            images_per_request, key, time_limit_s, timeout_s))


async def _run(url, images, requests, concurrency, per_request, key, time_limit_s, timeout_s) -> LoadtestReport:
    report = LoadtestReport(url, concurrency, per_request)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1)
    next_request = 0
    start = time.perf_counter()
    deadline = start + time_limit_s

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_request
        while next_request < requests and time.perf_counter() < deadline:
            n = next_request
            next_request += 1
            chosen = [images[(n * per_request + j) % len(images)] for j in range(per_request)]
            files = [("images", (f"image-{j}", data, "application/octet-stream")) for j, data in enumerate(chosen)]
            sent = time.perf_counter()
            report.sent += 1
            try:
                response = await client.post("/score", files=files)
            except httpx.HTTPError as exc:
                _count(report.errors, type(exc).__name__)
                continue
            if response.status_code == 200:
                report.ok += 1
                report.images += per_request
                report.latencies_ms.append((time.perf_counter() - sent) * 1000.0)
            else:
                _count(report.errors, str(response.status_code))

    async def probe(client: httpx.AsyncClient) -> None:
        while True:
            sent = time.perf_counter()
            try:
                await client.get("/health")
                report.health_ms.append((time.perf_counter() - sent) * 1000.0)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(HEALTH_PROBE_INTERVAL_S)

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout_s, limits=limits) as client, \
            httpx.AsyncClient(base_url=url, timeout=timeout_s) as health_client:
        prober = asyncio.create_task(probe(health_client))
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        report.seconds = time.perf_counter() - start
        prober.cancel()
        await asyncio.gather(prober, return_exceptions=True)
    return report


def default_images(url: str, key: str | None = None, count: int = 50) -> list[bytes]:
    """``count`` bundled digits as PNG bytes, at the model's input size (from ``/metadata``)."""
    from PIL import Image

    from visionblocks.service.client import Client
    from visionblocks.datasets import load_digits_arrays

    with Client(url, key) as client:
        size = client.metadata().get("input_size") or [3, 32, 32]
    arrays, _targets = load_digits_arrays()
    out = []
    for array in arrays[:count]:
        buffer = io.BytesIO()
        Image.fromarray(array, "L").resize((size[2], size[1]), Image.Resampling.BICUBIC).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def _count(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"

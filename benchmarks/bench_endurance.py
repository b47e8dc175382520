"""Service endurance: many requests in every format, about one in ten bad, at a fixed concurrency,
against one real ``visionblocks serve`` process; not a CI test.

The model is a ModelDirectory given with ``--model`` or, by default, resnet18 with random weights
and ten digit classes at ``--size`` pixels (scoring does not need a good model: every good answer
is compared with the same model scored offline). The server listens on 127.0.0.1, port 0.

Reported: answers by HTTP status (a 503 with Retry-After, the queue full, is counted apart and
allowed; any other 5xx is a failure), p50/p95/p99 latency, the server's resident memory after a
warm-up and after the run, and how many good answers differ from offline scoring. Exit status 1
when a 5xx (other than 503 with Retry-After) or a mismatch was seen, or memory grew past
``--rss-growth-mib``.

    .venv/bin/python benchmarks/bench_endurance.py
    .venv/bin/python benchmarks/bench_endurance.py --requests 2000 --time-limit 300

Bounded: the run stops after ``--time-limit`` seconds whatever is left.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_service import digit_pngs, make_model, start  # noqa: E402

PROBABILITY = "Scored Probabilities_"
BAD_SHARE = 0.1
# Offline and served scores use one model, transform and precision; only the batch an image
# shares differs, which moves float32 sums in their last bits.
TOLERANCE = 1e-5


# -- requests --------------------------------------------------------------------------------------
def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode()


def good_request(rng: random.Random, pngs: list[bytes]) -> tuple[str, dict, list[int]]:
    """(format, httpx keyword arguments, indices of the images sent)."""
    picks = [rng.randrange(len(pngs)) for _ in range(rng.randint(1, 3))]
    kind = rng.choice(["designer", "array", "array-bytes-repr", "multipart", "raw"])
    if kind == "raw":
        picks = picks[:1]
        return kind, {"content": pngs[picks[0]], "headers": {"content-type": "image/png"}}, picks
    if kind == "multipart":
        return kind, {"files": [("images", (f"{i}.png", pngs[i], "image/png")) for i in picks]}, picks
    if kind == "designer":
        body = {"Inputs": {"WebServiceInput0": [{"image": _b64(pngs[i])} for i in picks]}, "GlobalParameters": {}}
    elif kind == "array":
        body = [{"image_in_base64": _b64(pngs[i])} for i in picks]
    else:
        body = [{"image_in_base64": str(base64.b64encode(pngs[i]))} for i in picks]  # the b'...' wrapper
    return kind, {"content": json.dumps(body), "headers": {"content-type": "application/json"}}, picks


def bad_request(rng: random.Random, pngs: list[bytes]) -> tuple[str, dict, list[int]]:
    json_type = {"content-type": "application/json"}
    bad = {
        "bad-base64": {"content": json.dumps([{"image": "not*base64"}]), "headers": json_type},
        "not-an-image": {"content": b"hello, world" * 10, "headers": {"content-type": "image/png"}},
        "empty": {"content": b"", "headers": json_type},
        "deep-json": {"content": "[" * 5000 + "]" * 5000, "headers": json_type},
        "no-image-field": {"content": json.dumps({"Inputs": {"WebServiceInput0": [{"img": "x"}]}}),
                           "headers": json_type},
        "broken-multipart": {"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}},
        "bad-top-k": {"content": pngs[0], "headers": {"content-type": "image/png"}, "params": {"top_k": "zero"}},
        "truncated-png": {"content": pngs[0][: len(pngs[0]) // 2], "headers": {"content-type": "image/png"}},
    }
    kind = rng.choice(sorted(bad))
    return f"bad:{kind}", bad[kind], []


# -- the server ------------------------------------------------------------------------------------
def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- offline reference -----------------------------------------------------------------------------
def offline_probabilities(model: Path, pngs: list[bytes], precision: str) -> tuple[np.ndarray, list[str]]:
    from visionblocks.images import open_rgb
    from visionblocks.learn.score import Scorer

    scorer = Scorer(model, device="cpu", precision=precision)
    return scorer.predict_images([open_rgb(png, 10**9)[0] for png in pngs]), scorer.classes


def rows_of(body) -> list[dict]:
    return body if isinstance(body, list) else body["Results"]["WebServiceOutput0"]


# -- the run ---------------------------------------------------------------------------------------
async def run(url: str, pngs: list[bytes], reference: np.ndarray, classes: list[str], args) -> dict:
    rng = random.Random(args.seed)
    plan = [(bad_request if rng.random() < BAD_SHARE else good_request)(rng, pngs) for _ in range(args.requests)]
    statuses: Counter = Counter()
    by_kind: Counter = Counter()
    latencies: list[float] = []
    mismatches = []
    deadline = time.monotonic() + args.time_limit
    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty() and time.monotonic() < deadline:
            kind, request, picks = queue.get_nowait()
            start = time.perf_counter()
            try:
                response = await client.post("/score", **request)
            except httpx.HTTPError as exc:
                statuses[f"client error {type(exc).__name__}"] += 1
                by_kind[f"{kind} client error {type(exc).__name__}"] += 1
                continue
            latencies.append(time.perf_counter() - start)
            status = response.status_code
            key = "503 with Retry-After" if status == 503 and "retry-after" in response.headers else str(status)
            statuses[key] += 1
            by_kind[f"{kind} {key}"] += 1
            if status == 200 and picks:
                got = np.array([[row[f"{PROBABILITY}{c}"] for c in classes] for row in rows_of(response.json())])
                if got.shape != (len(picks), len(classes)) or not np.allclose(got, reference[picks], atol=TOLERANCE):
                    mismatches.append(kind)

    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(args.concurrency)))
        seconds = time.perf_counter() - started
    q = np.percentile(np.array(latencies) * 1000, [50, 95, 99]) if latencies else [float("nan")] * 3
    return {"sent": sum(statuses.values()), "planned": len(plan), "seconds": round(seconds, 1),
            "statuses": dict(sorted(statuses.items())), "by_kind": dict(sorted(by_kind.items())),
            "latency_ms": {"p50": round(q[0], 1), "p95": round(q[1], 1), "p99": round(q[2], 1)},
            "mismatches": len(mismatches)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a ModelDirectory (default: resnet18, random weights)")
    parser.add_argument("--size", type=int, default=32, help="image edge of the default model (pixels)")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=200, help="good requests before memory is measured")
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--rss-growth-mib", type=float, default=200.0, help="allowed memory growth")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="fp32", help="the server's and the offline scorer's precision")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or make_model(Path(tmp) / "model", args.size, 10)
        pngs = digit_pngs(args.size)
        reference, classes = offline_probabilities(model, pngs, args.precision)
        process, url = start(model, Path(tmp) / "server.log", "--precision", args.precision)
        try:
            warm = argparse.Namespace(**{**vars(args), "requests": args.warmup, "seed": args.seed + 1})
            asyncio.run(run(url, pngs, reference, classes, warm))
            rss_warm = rss_mib(process.pid)
            report = asyncio.run(run(url, pngs, reference, classes, args))
            rss_after = rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(60)
        tracebacks = (Path(tmp) / "server.log").read_text(errors="replace").count("Traceback")
    report.update(rss_mib={"after_warmup": round(rss_warm, 1), "after_run": round(rss_after, 1)},
                  server_log_tracebacks=tracebacks)
    print(json.dumps(report, indent=2))
    server_errors = sum(n for status, n in report["statuses"].items() if status.startswith("5") and "Retry" not in status)
    ok = (server_errors == 0 and report["mismatches"] == 0 and tracebacks == 0
          and rss_after - rss_warm <= args.rss_growth_mib)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

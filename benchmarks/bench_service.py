"""Web service throughput: micro-batching against one image per forward pass, same load, one run.

Two ``visionblocks serve`` processes score with the same model (resnet18, random weights, the
given number of classes, a Resize/ToTensor/Normalize transformation at ``--size`` pixels): one
micro-batches (``--max-batch 32 --max-wait-ms 5``, the defaults), the other runs one image per
forward pass (``--max-batch 1``). The same load test, ``--requests`` multipart requests of
``--images-per-request`` digits at ``--concurrency``, is run against each, the two taking turns
for ``--rounds`` rounds after a warm-up; each side's best round is reported (the machine may be
shared, and the best round is the least disturbed one), with its p50/p95/p99 latency, the
latency of ``/health`` probed during the load, and the batch sizes the server ran.

    .venv/bin/python benchmarks/bench_service.py
    .venv/bin/python benchmarks/bench_service.py --size 224 --requests 100 --rounds 1

The load-test client runs on the same machine as the servers and takes its share of the cores,
the same for both sides. Bounded: at most rounds × 2 × requests requests, each side's round
stopped after --time-limit seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch
from PIL import Image

from visionblocks.learn import models
from visionblocks.datasets import load_digits_arrays
from visionblocks.service.loadtest import run_loadtest
from visionblocks.data.transforms import IMAGENET_MEAN, IMAGENET_STD

READY = "visionblocks: scoring service ready at "


def make_model(folder: Path, size: int, classes: int) -> Path:
    torch.manual_seed(0)
    config = models.untrained_config("resnet18", pretrained=False)
    ops = [["Resize", size], ["ToTensor", {}], ["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}]]
    models.save_trained(folder, models.build_model(config, classes), {**config, "input_size": [3, size, size]},
                        [f"class{i}" for i in range(classes)], ops)
    return folder


def digit_pngs(size: int, count: int = 50) -> list[bytes]:
    arrays, _ = load_digits_arrays()
    out = []
    for array in arrays[:count]:
        buffer = io.BytesIO()
        Image.fromarray(array, "L").resize((size, size), Image.Resampling.BICUBIC).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out


def start(model: Path, log: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``visionblocks serve model`` on a free port with ``options`` (stderr into ``log``): the process
    and its address, once it is ready (also used by bench_endurance.py)."""
    command = [sys.executable, "-m", "visionblocks", "serve", str(model), "--port", "0", "--log-level", "warning",
               *options]
    with open(log, "wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.monotonic() + 120
    for line in process.stdout:  # the server prints its address once it is ready
        if line.startswith(READY):
            return process, line[len(READY):].strip()
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}")


def batch_sizes(url: str) -> dict[int, int]:
    return {int(k): v for k, v in httpx.get(f"{url}/metrics.json", timeout=30).json()["batch_sizes"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--images-per-request", type=int, default=1)
    parser.add_argument("--size", type=int, default=32, help="image and model input size in pixels")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per side and round at most")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    model = make_model(work / "model", args.size, args.classes)
    images = digit_pngs(args.size)
    sides = {"micro-batching": 32, "one image per pass": 1}
    servers = {name: start(model, work / f"{max_batch}.log", "--max-batch", str(max_batch)) for name, max_batch in sides.items()}
    results: dict[str, list[dict]] = {name: [] for name in sides}
    try:
        for name, (_process, url) in servers.items():  # warm-up: first-call allocations, thread pools
            run_loadtest(url, images, requests=40, concurrency=args.concurrency, time_limit_s=60)
        for _round in range(args.rounds):
            for name, (_process, url) in servers.items():
                before = batch_sizes(url)
                report = run_loadtest(url, images, requests=args.requests, concurrency=args.concurrency,
                                      images_per_request=args.images_per_request, time_limit_s=args.time_limit)
                after = batch_sizes(url)
                ran = {size: after.get(size, 0) - before.get(size, 0) for size in after}
                forward = sum(ran.values())
                results[name].append({**report.as_dict(), "forward_passes": forward,
                                      "mean_batch": round(sum(s * n for s, n in ran.items()) / max(1, forward), 2)})
                print(f"[{name}] {report.text()}", flush=True)
    finally:
        for process, _url in servers.values():
            process.terminate()
            process.wait(30)

    best = {name: max(rounds, key=lambda r: r["images_per_second"]) for name, rounds in results.items()}
    batched, single = best["micro-batching"], best["one image per pass"]
    print()
    print(f"resnet18 at {args.size}x{args.size}, {args.requests} requests x {args.images_per_request} image(s), "
          f"concurrency {args.concurrency}, torch {torch.__version__}, {torch.get_num_threads()} threads; best of "
          f"{args.rounds} round(s)")
    print(f"{'side':<20}{'images/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'mean batch':>12}"
          f"{'/health p50':>13}{'max':>8}{'errors':>8}")
    for name, r in best.items():
        lat, health = r["latency_ms"], r["health_latency_ms"]
        print(f"{name:<20}{r['images_per_second']:>10.1f}{lat['p50']:>9.1f}{lat['p95']:>9.1f}{lat['p99']:>9.1f}"
              f"{r['mean_batch']:>12.2f}{health['p50']:>13.1f}{health['max']:>8.1f}{sum(r['errors'].values()):>8}")
    ratio = batched["images_per_second"] / single["images_per_second"]
    print(f"throughput ratio (micro-batching / one image per pass): {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rounds": results,
                                         "best": best, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()

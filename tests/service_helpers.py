"""Helpers for the web service tests: start a real server in a subprocess, stop it for sure,
make images; run as a script, it serves a fake slow model through the real app and runner.

Servers listen on 127.0.0.1 with ``--port 0`` (a free port, bound before the server announces
its address on stdout), so no two tests can collide on a port.
"""

from __future__ import annotations

import argparse
import io
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

READY = "visionblocks: {what} ready at "  # what serve and studio print once ready, the address after it
START_TIMEOUT_S = 90.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (graceful), then SIGKILL if it does not exit in time; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""


def start(args: list[str], log: Path, command: list[str] | None = None, what: str = "scoring service",
          **popen) -> Server:
    """Run ``python <args>`` (or ``command + args``, with ``popen``'s cwd/env); return once it
    announces itself as ``what`` and its address (or fail with its log)."""
    ready = READY.format(what=what)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as err:
        process = subprocess.Popen([*(command or [sys.executable]), *args], stdout=subprocess.PIPE, stderr=err,
                                   text=True, **popen)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line.startswith(ready):
            return Server(line[len(ready):].strip(), process, log)
    server = Server("", process, log)
    server.stop()
    raise RuntimeError(f"the server did not start: {' '.join(args)}\n{server.log_text()[-3000:]}")


def start_serve(model_dir: Path, log: Path, *options: str) -> Server:
    return start(["-m", "visionblocks", "serve", str(model_dir), "--port", "0", *options], log)


def start_fake(log: Path, *options: str) -> Server:
    return start([__file__, "--port", "0", *options], log)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels (a decompression bomb's shape:
    decoding it would need width × height × 3 bytes)."""
    import struct
    import zlib

    data = bytearray(png_bytes(Image.new("RGB", (1, 1))))
    data[16:24] = struct.pack(">II", width, height)  # IHDR width and height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # the IHDR chunk's CRC
    return bytes(data)


class SlowScorer:
    """A stand-in model whose forward pass takes ``delay`` seconds (time.sleep: no CPU used), so
    tests can hold the model busy; probabilities follow the mean color."""

    classes = ["red", "green", "blue"]
    config = {"architecture": "slow-fake", "input_size": [3, 8, 8]}

    def __init__(self, delay: float):
        # torch is loaded here, as a real Scorer has it loaded before the service says it is ready:
        # imported by the first request instead, it would eat a short --timeout on a busy machine.
        import torch  # noqa: F401

        self.delay = delay

    def transform(self, image):
        import numpy as np
        import torch

        return torch.from_numpy(np.asarray(image.resize((8, 8)), dtype=np.float32) / 255.0).permute(2, 0, 1)

    def predict_tensors(self, batch):
        import torch

        time.sleep(self.delay)
        return torch.softmax(batch.mean(dim=(2, 3)).double() * 10, dim=1).numpy()


def main() -> None:
    from visionblocks.service.app import create_app, run
    from visionblocks.service.settings import Batching, Limits

    parser = argparse.ArgumentParser(description="serve SlowScorer through the real app")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--max-queue", type=int, default=512)
    parser.add_argument("--max-images", type=int, default=64)
    parser.add_argument("--max-batch", type=int, default=32)
    args = parser.parse_args()
    limits = Limits(max_images=args.max_images, max_queue=args.max_queue, timeout_s=args.timeout)
    app = create_app(SlowScorer(args.delay), limits, Batching(max_batch=args.max_batch, max_wait_ms=0))
    run(app, "127.0.0.1", args.port, log_level="warning")


if __name__ == "__main__":
    main()

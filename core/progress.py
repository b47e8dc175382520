"""Progress lines for long work (epochs, batches, images/s), on stderr.

Modules call ``ctx.progress.update(...)``; one line per report keeps CI logs readable (no
carriage-return bars). ``VISIONBLOCKS_QUIET=1`` silences it.
"""

from __future__ import annotations

import os
import sys
import time


class Progress:
    def __init__(self, label: str = "", stream=None, quiet: bool | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.quiet = os.environ.get("VISIONBLOCKS_QUIET", "") == "1" if quiet is None else quiet
        self.start = time.perf_counter()

    def log(self, message: str) -> None:
        if self.quiet:
            return
        prefix = f"[{self.label}] " if self.label else ""
        print(f"{prefix}{message}", file=self.stream, flush=True)

    def rate(self, count: int, since: float | None = None) -> float:
        elapsed = time.perf_counter() - (self.start if since is None else since)
        return count / elapsed if elapsed > 0 else 0.0

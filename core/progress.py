"""Progress of long work on stderr: messages, and bars for counted work.

Modules call ``ctx.progress.log(message)`` for one line, and ``ctx.progress.bar(total, what,
unit)`` for counted work (images converted, batches of an epoch, images scored):

- on a terminal (the stream is a TTY) the bar is a tqdm bar with the rate and the time left,
  redrawn in place; lines logged meanwhile appear above it;
- elsewhere (CI logs, pytest's capture, a file) it prints plain lines without carriage returns:
  one when the work starts, one at each quarter with the rate and the time left (when the last
  line is a few seconds old), one at the end.
  A task of any size thus adds a handful of lines to a log.

``VISIONBLOCKS_QUIET=1`` (or ``quiet=True``) silences both.
"""

from __future__ import annotations

import math
import os
import sys
import time

QUIET_ENV = "VISIONBLOCKS_QUIET"
# Plain output reports the work at each 1/PLAIN_STEPS of it (quarters), so the number of lines
# does not grow with the number of images ...
PLAIN_STEPS = 4
# ... and only when this many seconds have passed since the bar's last line, so work that is
# over in a moment prints just its start and end lines.
PLAIN_MIN_SECONDS = 2.0


class Progress:
    """Where a module reports its progress: ``label`` prefixes every line (``[label] ...``)."""

    def __init__(self, label: str = "", stream=None, quiet: bool | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.quiet = os.environ.get(QUIET_ENV, "") == "1" if quiet is None else quiet
        self.start = time.perf_counter()

    @property
    def interactive(self) -> bool:
        """Whether output goes to a terminal, which gets redrawn bars instead of plain lines."""
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def child(self, label: str) -> "Progress":
        """A Progress for a part of this work (a pipeline node): same stream, same quietness."""
        return Progress(label, self.stream, self.quiet)

    def log(self, message: str) -> None:
        if self.quiet:
            return
        line = self._prefixed(message)
        if self.interactive:
            from tqdm import tqdm

            tqdm.write(line, file=self.stream)  # clears and redraws a running bar around the line
        else:
            print(line, file=self.stream, flush=True)

    def rate(self, count: int, since: float | None = None) -> float:
        elapsed = time.perf_counter() - (self.start if since is None else since)
        return count / elapsed if elapsed > 0 else 0.0

    def bar(self, total: int, what: str, unit: str = "image", lines: bool = True) -> "Bar":
        """Count ``total`` ``unit``s of work called ``what`` (use it as a context manager).

        ``lines=False`` leaves out the start, quarter and end lines (plain output) and the end line
        (terminal), for callers that print their own lines at each step, as training does.
        """
        if self.quiet or total <= 0:  # nothing to count: nothing to show
            return Bar(self, total, what, unit, lines=False)
        if self.interactive:
            return TerminalBar(self, total, what, unit, lines)
        return PlainBar(self, total, what, unit, lines)

    def _prefixed(self, message: str) -> str:
        return f"[{self.label}] {message}" if self.label else message


class Bar:
    """Counted work that shows nothing (the quiet case); the base of the two visible bars.

    ``advance(n)`` counts ``n`` more units done; ``note(message)`` reports a status that goes with
    the count (the bar shows it beside the count; plain output prints it as a line).
    """

    def __init__(self, progress: Progress, total: int, what: str, unit: str, lines: bool):
        self.progress, self.total, self.what, self.unit, self.lines = progress, int(total), what, unit, lines
        self.done = 0
        self.start = time.perf_counter()

    def advance(self, n: int = 1) -> None:
        self.done += n

    def note(self, message: str) -> None:
        """A status at the current count (silent here)."""

    def close(self, finished: bool = True) -> None:
        """End the bar; ``finished`` is False when the work stopped on an error."""

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(finished=exc_type is None)

    def summary(self) -> str:
        """The end line: ``what: done/total units in mm:ss, rate units/s``."""
        seconds = time.perf_counter() - self.start
        rate = self.done / seconds if seconds > 0 else 0.0
        return f"{self.what}: {self._count()} in {duration(seconds)}, {rate:.1f} {self.unit}s/s"

    def _count(self) -> str:
        return f"{self.done}/{self.total} {self.unit}s"


class PlainBar(Bar):
    """Plain lines: at the start, at each quarter (with the rate and the time left; not within
    :data:`PLAIN_MIN_SECONDS` of the previous line) and at the end."""

    def __init__(self, progress: Progress, total: int, what: str, unit: str, lines: bool):
        super().__init__(progress, total, what, unit, lines)
        self._next_step = 1
        self._last_line = self.start
        if self.lines:
            progress.log(f"{what}: {self._count()}")

    def advance(self, n: int = 1) -> None:
        super().advance(n)
        reached = self._steps_reached()
        if reached >= self._next_step:
            self._next_step = reached + 1  # a jump over several quarters prints one line
            now = time.perf_counter()
            # The end line reports the last step.
            if self.lines and self.done < self.total and now - self._last_line >= PLAIN_MIN_SECONDS:
                self._last_line = now
                self.progress.log(self._checkpoint())

    def note(self, message: str) -> None:
        self.progress.log(f"{self.what} {self.unit} {self.done}/{self.total}: {message}")

    def close(self, finished: bool = True) -> None:
        if finished and self.lines:
            self.progress.log(self.summary())

    def _steps_reached(self) -> int:
        return PLAIN_STEPS * self.done // self.total

    def _checkpoint(self) -> str:
        seconds = time.perf_counter() - self.start
        rate = self.done / seconds if seconds > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else math.inf
        return f"{self.what}: {self._count()}, {rate:.1f} {self.unit}s/s, about {duration(left)} left"


class TerminalBar(Bar):
    """A tqdm bar redrawn in place, with the rate and the time left; removed at the end, when
    the end line (if any) takes its place."""

    def __init__(self, progress: Progress, total: int, what: str, unit: str, lines: bool):
        super().__init__(progress, total, what, unit, lines)
        from tqdm import tqdm

        self._tqdm = tqdm(total=self.total, desc=progress._prefixed(what), unit=unit, file=progress.stream,
                          leave=False, dynamic_ncols=True)

    def advance(self, n: int = 1) -> None:
        super().advance(n)
        self._tqdm.update(n)

    def note(self, message: str) -> None:
        self._tqdm.set_postfix_str(message)

    def close(self, finished: bool = True) -> None:
        self._tqdm.close()
        if finished and self.lines:
            self.progress.log(self.summary())


def duration(seconds: float) -> str:
    """``mm:ss`` or ``h:mm:ss``, as tqdm writes times; ``?`` when unknown."""
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"

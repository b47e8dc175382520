"""Micro-batching: the images of concurrent requests share forward passes on one worker thread.

The event loop never runs the model. A request hands its transformed images to
:meth:`MicroBatcher.submit` and awaits a future; one worker thread takes images from the queue,
waits at most ``max_wait_s`` after the oldest one arrived for others to join (never longer:
under load the queue is already full and nobody waits), stacks up to ``max_batch`` images of the
same size into one batch, runs one forward pass and hands each request its rows. A single
thread owns the model, so forward passes never compete with each other for the cores.

The queue is bounded in images: a request that would overflow it is refused at once
(:class:`QueueFull`, answered 503 with Retry-After) instead of waiting behind work it cannot
catch up with. Images of a request that gave up (its timeout passed) are skipped, not scored.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from collections import Counter
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

_STOP = object()


class QueueFull(Exception):
    def __init__(self, pending: int, capacity: int, retry_after_s: int):
        super().__init__(f"{pending} images are waiting to be scored; the queue holds {capacity}.")
        self.retry_after_s = retry_after_s


@dataclass
class _Job:
    """One request's images and the future its rows go to."""

    tensors: list
    future: Future = field(default_factory=Future)
    result: np.ndarray | None = None
    remaining: int = 0


@dataclass
class _Item:
    job: _Job
    index: int
    queued_at: float


class MicroBatcher:
    """``predict(batch N×C×H×W) -> N×classes probabilities`` run on batches of queued images.
    The sizes come from :class:`.settings.Batching` and :class:`.settings.Limits` (``max_queue``)."""

    def __init__(self, predict: Callable, *, max_batch: int, max_wait_s: float, max_queue: int):
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be at least 1 and max_wait_s at least 0")
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._batch_sizes: Counter[int] = Counter()
        self._seconds_per_image = 0.0  # smoothed, for Retry-After
        self._thread: threading.Thread | None = None

    # -- the request side (event loop) ------------------------------------------------------------
    def ensure_room(self, images: int) -> None:
        """Raise :class:`QueueFull` unless ``images`` more images fit in the queue now."""
        with self._lock:
            self._check_room(images)

    def _check_room(self, images: int) -> None:
        if self._pending + images > self.max_queue:
            # Retry-After: the time the worker needs for what is queued, at its recent speed.
            retry = max(1, math.ceil(self._pending * self._seconds_per_image))
            raise QueueFull(self._pending, self.max_queue, retry)

    def submit(self, tensors: list) -> Future:
        """Queue one request's images; the future resolves to their probabilities (in order)."""
        with self._lock:
            self._check_room(len(tensors))
            self._pending += len(tensors)
        job = _Job(tensors, remaining=len(tensors))
        now = time.monotonic()
        for index in range(len(tensors)):
            self._queue.put(_Item(job, index, now))
        return job.future

    async def predict_async(self, tensors: list) -> np.ndarray:
        # Cancelling the await (a request timeout) cancels the job: its queued images are skipped.
        return await asyncio.wrap_future(self.submit(tensors))

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def batch_sizes(self) -> dict[int, int]:
        with self._lock:
            return dict(sorted(self._batch_sizes.items()))

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="visionblocks-batcher", daemon=True)
            self._thread.start()

    def close(self, timeout: float | None = None) -> None:
        """Score what is queued, then stop the worker."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    # -- the worker thread -------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = [first], False
            deadline = first.queued_at + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._run(batch)
            if stop:
                self._drain()
                return

    def _drain(self) -> None:
        """Score anything still queued behind the stop marker (nothing, after a graceful shutdown)."""
        rest = []
        while True:
            try:
                rest.append(self._queue.get_nowait())
            except queue.Empty:
                break
        items = [item for item in rest if item is not _STOP]
        for start in range(0, len(items), self.max_batch):
            self._run(items[start:start + self.max_batch])

    def _run(self, batch: list[_Item]) -> None:
        import torch

        live = [item for item in batch if not item.job.future.done()]  # skip given-up requests
        self._release(len(batch) - len(live))
        by_shape: dict[tuple, list[_Item]] = {}
        for item in live:
            by_shape.setdefault(tuple(item.job.tensors[item.index].shape), []).append(item)
        for items in by_shape.values():
            start = time.perf_counter()
            try:
                probabilities = self.predict(torch.stack([item.job.tensors[item.index] for item in items]))
            except Exception as exc:  # noqa: BLE001 - the requests get the error, the worker goes on
                for item in items:
                    _settle(item.job.future, exception=exc)
                self._release(len(items))
                continue
            seconds = time.perf_counter() - start
            for item, row in zip(items, probabilities):
                job = item.job
                if job.result is None:
                    job.result = np.empty((len(job.tensors), len(row)), dtype=np.float64)
                job.result[item.index] = row
                job.remaining -= 1
                if job.remaining == 0:
                    job.tensors = []  # free the images as soon as the answer is known
                    _settle(job.future, result=job.result)
            with self._lock:
                self._batch_sizes[len(items)] += 1
                per_image = seconds / len(items)
                self._seconds_per_image = per_image if not self._seconds_per_image else \
                    0.9 * self._seconds_per_image + 0.1 * per_image
            self._release(len(items))

    def _release(self, count: int) -> None:
        if count:
            with self._lock:
                self._pending -= count


def _settle(future: Future, result=None, exception: BaseException | None = None) -> None:
    """Set a future's outcome unless it was cancelled meanwhile (its request timed out)."""
    if future.done():
        return
    try:
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass

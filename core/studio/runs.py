"""One pipeline run at a time, in a worker process, its events fanned out to every open page.

The worker (:mod:`.worker`) writes its events as JSON lines; a reader thread here turns them into
the run's event list and hands each to the event loop, which puts it on every subscriber's queue
(one per server-sent-events stream). A page that connects late gets the events so far first, so a
reload shows the run as it stands.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from visionblocks import errors
from visionblocks.studio.worker import describe_error

FINAL_STATES = ("done", "failed", "cancelled")


class RunBusyError(errors.FailedToCompleteOperationError):
    """0039 when a run is asked for while one is going (the run lock would refuse it anyway)."""


@dataclass
class Run:
    number: int
    nodes: list[str]
    process: subprocess.Popen | None = None
    events: list[dict] = field(default_factory=list)
    state: str = "running"
    cancelled: bool = False


class RunManager:
    def __init__(self):
        self.current: Run | None = None
        self.subscribers: set[asyncio.Queue] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._count = 0

    @property
    def busy(self) -> bool:
        return self.current is not None and self.current.state == "running"

    def start(self, pipeline: dict, base_dir: Path, out: Path, order: list[str], language: str,
              force: bool = False) -> Run:
        if self.busy:
            raise RunBusyError("A run is going: wait for it to end or cancel it.")
        self.loop = asyncio.get_running_loop()
        self._count += 1
        run = self.current = Run(self._count, order)
        self._publish(run, {"event": "run", "state": "running", "run": run.number})
        for node in order:
            self._publish(run, {"event": "node", "id": node, "state": "waiting"})
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # What the modules print goes to a log file (the worker keeps its own copy of the handle).
        # A session of its own: cancelling ends the worker and its data-loading processes together.
        with open(out / ".studio-run.log", "w", encoding="utf-8") as log:
            run.process = subprocess.Popen([sys.executable, "-m", "visionblocks.studio.worker"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                           text=True, encoding="utf-8", start_new_session=os.name == "posix")
        job = {"pipeline": pipeline, "base_dir": str(base_dir), "out": str(out), "language": language, "force": force}
        run.process.stdin.write(json.dumps(job))
        run.process.stdin.close()
        threading.Thread(target=self._read, args=(run,), daemon=True, name=f"studio-run-{run.number}").start()
        return run

    def cancel(self) -> bool:
        run = self.current
        if run is None or run.state != "running" or run.process is None:
            return False
        run.cancelled = True
        try:
            if os.name == "posix":
                os.killpg(run.process.pid, signal.SIGTERM)
            else:
                run.process.terminate()
        except ProcessLookupError:
            pass
        return True

    def _read(self, run: Run) -> None:
        """The reader thread: every line of the worker, then the end of the run."""
        final = None
        for line in run.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "run":
                final = event
                continue
            self._send(run, event)
        run.process.wait()
        if run.cancelled:
            final = {"event": "run", "state": "cancelled"}
        elif final is None:
            final = {"event": "run", "state": "failed", "error": describe_error(errors.LibraryError(
                f"The run's worker process ended with exit code {run.process.returncode}."))}
        self._send(run, {**final, "run": run.number})

    def _send(self, run: Run, event: dict) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._publish, run, event)

    def _publish(self, run: Run, event: dict) -> None:
        """On the event loop: record the event and hand it to every subscriber."""
        if event.get("event") == "run":
            run.state = event["state"]
            if event["state"] in FINAL_STATES:  # nodes left running did not finish
                for node, state in node_states(run.events).items():
                    if state in ("running", "waiting"):
                        self._publish(run, {"event": "node", "id": node,
                                            "state": "failed" if state == "running" else "waiting"})
        run.events.append(event)
        for queue in self.subscribers:
            queue.put_nowait(event)

    def subscribe(self) -> tuple[asyncio.Queue, list[dict]]:
        queue: asyncio.Queue = asyncio.Queue()
        self.subscribers.add(queue)
        return queue, list(self.current.events) if self.current else []

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.discard(queue)

    def stop(self) -> None:
        """At shutdown: no worker outlives the studio."""
        self.cancel()


def node_states(events: list[dict]) -> dict[str, str]:
    states: dict[str, str] = {}
    for event in events:
        if event.get("event") == "node":
            states[event["id"]] = event["state"]
    return states

"""What runs in the studio's worker process: one pipeline run, its life told as JSON lines.

``python -m visionblocks.studio.worker`` reads the job from stdin (``pipeline``: the pipeline
file's content, ``base_dir``: the folder its relative paths start from, ``out``, ``language``,
``force``) and writes one JSON object per line to stdout, taken from the run hooks: ``node``
(``running``, ``done``, ``reused``, ``failed`` with the error), ``metrics`` (per epoch and per
Print frequency batch) and, last, ``run`` (``done`` or ``failed``). Whatever modules print goes
to stderr, so it never mixes with the events. A process, not a thread: the web server's event
loop never waits on torch, and cancelling is ending the process (the run lock and atomic outputs
make that safe: an interrupted node leaves no output that looks complete).
"""

from __future__ import annotations

import json
import sys
import threading

import visionblocks
from visionblocks import errors


class Forwarder:
    """A plugin on the run hooks that writes each event as a line on ``stream``."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()  # training reports from its own threads too

    def send(self, **event) -> None:
        line = json.dumps(event, default=str, ensure_ascii=False)
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    @visionblocks.hookimpl
    def visionblocks_node_started(self, run, node):
        self.send(event="node", id=node.id, state="running")

    @visionblocks.hookimpl
    def visionblocks_metrics(self, run, node, metrics, step, scope):
        self.send(event="metrics", id=node.id, scope=scope, step=step,
                  metrics={name: float(value) for name, value in metrics.items()})

    @visionblocks.hookimpl
    def visionblocks_node_finished(self, run, node, status, error):
        state = {"ran": "done", "reused": "reused"}.get(status, "failed")
        self.send(event="node", id=node.id, state=state, error=describe_error(error) if error else None)


def describe_error(exc: BaseException) -> dict:
    """A failure as an event carries it; anything not a designer error is a LibraryError (1000)."""
    if not isinstance(exc, errors.ModuleError):
        exc = errors.LibraryError(f"{type(exc).__name__}: {exc}")
    return {"code": exc.code_str, "name": exc.name, "class": type(exc).__name__, "detail": exc.message,
            "hint": exc.hint or ""}


def main() -> int:
    from pathlib import Path

    from visionblocks.device import tune_threads
    from visionblocks.pipeline import Pipeline
    from visionblocks.plugin_host import register_plugin

    events = sys.stdout
    sys.stdout = sys.stderr  # module output must not mix with the event lines
    forwarder = Forwarder(events)
    tune_threads()  # this process is an entry point: it sets the thread count, as the CLI does
    try:
        job = json.loads(sys.stdin.read())
        register_plugin(forwarder, "visionblocks-studio-events")
        pipeline = Pipeline.from_dict(job["pipeline"], base_dir=job["base_dir"])
        out = Path(job["out"])
        out.mkdir(parents=True, exist_ok=True)
        pipeline.run(out, force=bool(job.get("force")), settings=pipeline.settings(job.get("language")))
    except BaseException as exc:  # noqa: BLE001 - every failure becomes the run's last event
        forwarder.send(event="run", state="failed", error=describe_error(exc))
        return 1
    forwarder.send(event="run", state="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""TensorBoard event files of the numbers modules report while they run: a built-in plugin.

Train PyTorch Model reports its metrics every epoch (``epoch/train_loss``, ``epoch/val_accuracy``,
``epoch/learning_rate`` ... at step = the epoch) and every Print frequency batches
(``batch/loss``, ``batch/accuracy``, ``batch/learning_rate``, ``batch/images_per_second`` at
step = batches since the start). They go to ``tensorboard/`` in the node's run folder, beside
its outputs (not inside the ModelDirectory, whose files are a fixed format), or, with
``visionblocks run --tensorboard DIR`` (the pipeline's ``tensorboard:`` line), to
``DIR/<run folder name>/<node id>/``, so ``tensorboard --logdir DIR`` shows runs side by side.
A node that runs again starts its folder afresh.

On when the ``tensorboard`` package is installed (torch's ``SummaryWriter`` needs it); without
it nothing is written and nothing is imported.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import visionblocks

FOLDER = "tensorboard"
_SCOPES = ("epoch", "batch")
_EVENT_FILES = "events.out.tfevents.*"


@functools.cache  # asked on every metric of a node while no writer is open: once is enough
def available() -> bool:
    try:
        return importlib.util.find_spec("tensorboard") is not None
    except (ImportError, ValueError):  # an import hook that refuses it, a broken install
        return False


def log_folder(run, node) -> Path:
    if run.settings.tensorboard is not None:
        return Path(run.settings.tensorboard) / Path(run.out).name / node.id
    return Path(node.run_dir) / FOLDER


class TensorBoardEvents:
    def __init__(self) -> None:
        self.writers: dict[tuple[str, str], object] = {}

    @visionblocks.hookimpl
    def visionblocks_metrics(self, run, node, metrics, step, scope):
        if scope not in _SCOPES:
            return
        writer = self.writers.get((run.id, node.id))
        if writer is None:
            if not available():
                return
            writer = self.writers[(run.id, node.id)] = _open(log_folder(run, node))
        for name, value in metrics.items():
            if value is not None:
                writer.add_scalar(f"{scope}/{name}", float(value), step)
        if scope == "epoch":
            writer.flush()  # an epoch's numbers are on disk as soon as the epoch ends

    @visionblocks.hookimpl
    def visionblocks_node_finished(self, run, node, status, error):
        writer = self.writers.pop((run.id, node.id), None)
        if writer is not None:
            writer.close()

    @visionblocks.hookimpl
    def visionblocks_run_finished(self, run, log, error):
        for key in [key for key in self.writers if key[0] == run.id]:
            self.writers.pop(key).close()


def _open(folder: Path):
    from torch.utils.tensorboard import SummaryWriter

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(_EVENT_FILES):  # a rerun's curves replace the last run's
        old.unlink()
    return SummaryWriter(log_dir=str(folder))


plugin = TensorBoardEvents()

"""Which torch device to run on: ``auto`` = cuda, then mps, then cpu.

The ``--device`` flag wins, then the ``VISIONBLOCKS_DEVICE`` environment variable, then auto.
Also what a process runs on besides the device: its place in a torchrun job (:func:`launch`) and
its CPU threads (:func:`tune_threads`, for entry points only).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

DEVICE_ENV = "VISIONBLOCKS_DEVICE"
CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(requested: str | None = None):
    import torch

    choice = (requested or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if choice.split(":")[0] not in CHOICES:
        from visionblocks.errors import NotInRangeValueError

        raise NotInRangeValueError(f"device {choice!r} is not one of {', '.join(CHOICES)}.")
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        from visionblocks.errors import FailedToCompleteOperationError

        raise FailedToCompleteOperationError("device 'cuda' was asked for, but torch sees no CUDA GPU.",
                                             hint="Use --device cpu or auto.")
    return torch.device(choice)


@dataclass(frozen=True)
class Launch:
    """Where this process sits in a ``torchrun`` job, read from the variables torchrun sets
    (a plain process is rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that reports, checkpoints and writes."""
        return self.rank == 0


def launch() -> Launch:
    """The torchrun environment of this process (see :class:`Launch`)."""
    env = os.environ
    world_size = int(env.get("WORLD_SIZE", "1"))
    return Launch(rank=int(env.get("RANK", "0")), world_size=world_size,
                  local_rank=int(env.get("LOCAL_RANK", "0")),
                  local_world_size=int(env.get("LOCAL_WORLD_SIZE", str(world_size))))


THREADS_ENV = "OMP_NUM_THREADS"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), not all the cores of the host."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def tune_threads(processes_per_host: int | None = None) -> int | None:
    """Give torch one intra-op thread per usable core, shared among ``processes_per_host``
    processes (default: torchrun's ``LOCAL_WORLD_SIZE``, 1 in a plain process), so that the
    processes of one host do not fight over its cores.

    The thread count belongs to the whole process, so only the entry point that owns the process
    calls this (the CLI's ``main``, ``visionblocks serve``); library code leaves it alone. An
    ``OMP_NUM_THREADS`` set by the user wins. torch is not imported here, so that commands
    without torch start fast: before torch is loaded the count goes into ``OMP_NUM_THREADS``,
    which torch (and the BLAS numpy loads) read when they start. Returns the count set, or None.
    """
    if THREADS_ENV in os.environ:
        return None
    processes = launch().local_world_size if processes_per_host is None else processes_per_host
    threads = max(1, usable_cores() // max(1, processes))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    else:
        os.environ[THREADS_ENV] = str(threads)
    return threads

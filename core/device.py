"""Which torch device to run on: ``auto`` = cuda, then mps, then cpu.

The ``--device`` flag wins, then the ``VISIONBLOCKS_DEVICE`` environment variable, then auto.
"""

from __future__ import annotations

import os
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


def launch() -> Launch:
    """The torchrun environment of this process (see :class:`Launch`)."""
    env = os.environ
    world_size = int(env.get("WORLD_SIZE", "1"))
    return Launch(rank=int(env.get("RANK", "0")), world_size=world_size,
                  local_rank=int(env.get("LOCAL_RANK", "0")),
                  local_world_size=int(env.get("LOCAL_WORLD_SIZE", str(world_size))))

"""Scoring under ``torchrun``: which images each process scores, the process group, and bringing
the scores back to rank 0.

Under ``torchrun --nproc_per_node=N`` every process runs the same scoring code. The images are cut
into N contiguous shards of whole batches (:func:`batch_shards`), so each process scores the same
batches, image for image, that a single process would, and the scores are identical to a
single-process run. Rank 0 writes its own shard while scoring it, then receives the other shards
in rank order, one batch at a time (:func:`send_rows` / :func:`receive_rows`): the scored dataset
keeps the original image order and rank 0 never holds another rank's whole shard.

The process group uses ``nccl`` when the model runs on a CUDA GPU and ``gloo`` otherwise, as
training does; a group the caller already joined is used as it is.
"""

from __future__ import annotations

import atexit
from typing import Iterator

import numpy as np
import torch

from visionblocks.device import Launch, launch


def batch_shards(count: int, batch_size: int, world_size: int) -> list[range]:
    """The image indices of each rank: contiguous ranges of whole batches of ``batch_size``,
    as even as whole batches allow (the shards differ by at most one batch).

    Deterministic, and the concatenation of the shards in rank order is ``range(count)``.
    """
    if batch_size < 1 or world_size < 1:
        raise ValueError(f"batch_size and world_size must be positive, got {batch_size} and {world_size}")
    batches = -(-count // batch_size)
    bounds = [min(count, (rank * batches // world_size) * batch_size) for rank in range(world_size + 1)]
    return [range(bounds[rank], bounds[rank + 1]) for rank in range(world_size)]


def local_device(device: torch.device) -> torch.device:
    """One GPU per process under torchrun: a bare ``cuda`` becomes ``cuda:<LOCAL_RANK>``."""
    job = launch()
    if job.distributed and device.type == "cuda" and device.index is None:
        return torch.device("cuda", job.local_rank)
    return device


def init_distributed(device: torch.device) -> Launch:
    """Where this process stands in the torchrun job (rank 0 of 1 when not distributed), after
    joining its process group (:func:`join_process_group`) when there is one.

    Joining waits for every rank, so a rank that returns from it knows that rank 0 has finished
    what it did before (for example publishing the model a pipeline's earlier node trained).
    """
    job = launch()
    if job.distributed:
        join_process_group(device)  # once per process: a pipeline's later modules share it
    return job


def join_process_group(device: torch.device) -> None:
    """Join torchrun's process group (``nccl`` for a CUDA ``device``, else ``gloo``) unless this
    process already has.

    A process joins once and leaves when it exits: the group is then shared by every module a
    pipeline runs in it. Leaving and joining again does not work under torchrun, because the
    second group reads the first one's stale addresses from torchrun's store.
    """
    import torch.distributed as tdist

    if tdist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(local_device(device))
    tdist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    atexit.register(_leave_process_group)


def _leave_process_group() -> None:
    import torch.distributed as tdist

    if tdist.is_initialized():
        tdist.destroy_process_group()


def _wire_device() -> torch.device:
    """Where the tensors sent between ranks live: the GPU for nccl, the CPU for gloo."""
    import torch.distributed as tdist

    if tdist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def send_rows(rows: np.ndarray, block_rows: int, dst: int = 0) -> None:
    """Send ``rows`` (float64, one row per image) to rank ``dst`` in blocks of ``block_rows``;
    the receiver knows the shape from the shards (see :func:`receive_rows`)."""
    import torch.distributed as tdist

    device = _wire_device()
    for start in range(0, rows.shape[0], block_rows):
        block = torch.from_numpy(np.ascontiguousarray(rows[start:start + block_rows], dtype=np.float64))
        tdist.send(block.to(device), dst)


def receive_rows(src: int, count: int, columns: int, block_rows: int) -> Iterator[np.ndarray]:
    """Receive the ``count`` rows that rank ``src`` sends with :func:`send_rows`, block by block."""
    import torch.distributed as tdist

    device = _wire_device()
    for start in range(0, count, block_rows):
        block = torch.empty((min(block_rows, count - start), columns), dtype=torch.float64, device=device)
        tdist.recv(block, src)
        yield block.cpu().numpy()

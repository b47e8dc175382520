"""Numeric precision and device tuning, shared by training and scoring.

``precision`` is a module parameter with four values:

- ``auto`` (default): bf16 mixed precision where the hardware runs bf16 natively — CUDA GPUs of
  compute capability 8.0 and up, CPUs that report the ``avx512_bf16`` or ``amx_bf16`` flags —
  and fp32 everywhere else (older GPUs, AVX2-only CPUs, Apple MPS). On a CPU without native
  bf16, bf16 runs through emulation and is slower than fp32, which is why ``auto`` avoids it.
- ``fp32``: no autocast.
- ``bf16``: autocast to bfloat16 (CPU or GPU), even where it is emulated.
- ``fp16``: autocast to float16 with a gradient scaler; CUDA only.

Weights stay fp32 in every mode (autocast casts per operation), so a model trained in one
precision loads and scores in any other.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass

from visionblocks import errors

from visionblocks.learn.choices import PRECISIONS as CHOICES


@dataclass(frozen=True)
class Precision:
    name: str  # what was resolved: fp32, bf16 or fp16
    requested: str
    reason: str  # one sentence for the progress log and the docs

    @property
    def dtype(self):
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)

    @property
    def needs_grad_scaler(self) -> bool:
        return self.name == "fp16"


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU executes bf16 in hardware (AVX-512 BF16 or AMX).

    torch's own capability string says AVX2/AVX512 but not whether bf16 is native, so the CPU
    flags are read from /proc/cpuinfo (Linux); elsewhere the answer is no, which only makes
    ``auto`` choose fp32.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cuda_has_native_bf16(device) -> bool:
    import torch

    return torch.cuda.get_device_capability(device)[0] >= 8


def resolve_precision(requested: str | None, device) -> Precision:
    """Turn the ``precision`` parameter into what runs on ``device``."""
    import torch

    requested = (requested or "auto").lower()
    device = torch.device(device)
    if requested not in CHOICES:
        raise errors.NotInRangeValueError(f"precision {requested!r} is not one of {', '.join(CHOICES)}.")
    if requested == "fp16" and device.type != "cuda":
        raise errors.NotInRangeValueError(
            f"precision 'fp16' needs a CUDA GPU; this run is on {device.type}.",
            hint="Use precision auto, bf16 or fp32.")
    if requested != "auto":
        return Precision(requested, requested, f"{requested} as asked")
    if device.type == "cuda":
        if cuda_has_native_bf16(device):
            return Precision("bf16", "auto", "bf16 mixed precision: this GPU runs bf16 natively (compute capability 8.0+)")
        return Precision("fp32", "auto", "fp32: this GPU has no native bf16 (compute capability below 8.0)")
    if device.type == "cpu":
        if cpu_has_native_bf16():
            return Precision("bf16", "auto", "bf16 mixed precision: this CPU has avx512_bf16 or AMX")
        return Precision("fp32", "auto", "fp32: this CPU has no native bf16 (no avx512_bf16 or AMX flag)")
    return Precision("fp32", "auto", f"fp32 on {device.type}")


# Below this many pixels per image, training on a CPU runs faster in fp32 than in bf16, even with
# native bf16 (the tiny-output GEMM gradient of conv_kernels only helps fp32). The measurements
# behind the threshold are in DESIGN.md ("Training on a CPU").
CPU_BF16_TRAINING_MIN_PIXELS = 64 * 64
# From this many pixels per image, fp32 training on a CPU is faster in channels_last (see memory_format).
CPU_FP32_CHANNELS_LAST_MIN_PIXELS = 128 * 128


def resolve_training_precision(requested: str | None, device, pixels: int) -> Precision:
    """:func:`resolve_precision` for training on images of ``pixels`` pixels: ``auto`` on a CPU
    keeps small images in fp32 (see :data:`CPU_BF16_TRAINING_MIN_PIXELS`)."""
    import torch

    chosen = resolve_precision(requested, device)
    if (chosen.requested == "auto" and chosen.name == "bf16" and torch.device(device).type == "cpu"
            and pixels < CPU_BF16_TRAINING_MIN_PIXELS):
        edge = math.isqrt(CPU_BF16_TRAINING_MIN_PIXELS)
        return Precision("fp32", "auto", f"fp32: this CPU has native bf16, but images smaller than {edge}x{edge} "
                                         "train faster in fp32")
    return chosen


def autocast(device, precision: Precision):
    """The autocast context for one forward pass (a no-op in fp32)."""
    import torch

    if precision.dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=precision.dtype)


def grad_scaler(device, precision: Precision):
    """A GradScaler for fp16 on CUDA, else a disabled one (its calls pass straight through)."""
    import torch

    return torch.amp.GradScaler(torch.device(device).type, enabled=precision.needs_grad_scaler)


def memory_format(device, precision: Precision | None = None, pixels: int | None = None):
    """The memory layout a model trains in: channels_last (NHWC) or the default NCHW.

    - CUDA: channels_last (tensor cores want NHWC).
    - CPU under bf16: channels_last. oneDNN's AMX kernels run NHWC natively, and it measured
      faster than NCHW at every image size.
    - CPU in fp32: channels_last only from :data:`CPU_FP32_CHANNELS_LAST_MIN_PIXELS` pixels per
      image; smaller images trained slower with it, so they stay NCHW.

    The measurements are in DESIGN.md ("Training on a CPU").
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.channels_last
    if device.type == "cpu":
        if precision is not None and precision.name == "bf16":
            return torch.channels_last
        if pixels is not None and pixels >= CPU_FP32_CHANNELS_LAST_MIN_PIXELS:
            return torch.channels_last
    return torch.contiguous_format


@contextlib.contextmanager
def cuda_speedups(device):
    """cuDNN autotuning and TF32 matrix products while the block runs on a CUDA ``device``.

    These are process-wide switches in torch, so they are set for the block only and restored
    after it: the caller's own fp32 work keeps the precision it asked for. A no-op elsewhere.
    """
    import torch

    if torch.device(device).type != "cuda":
        yield
        return
    saved = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    # Input sizes are fixed within a run, so cuDNN's autotuning pays off.
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = saved


def pin_memory(device) -> bool:
    """Whether loaders should pin host memory (only useful for copies to CUDA)."""
    import torch

    return torch.device(device).type == "cuda"


def to_device(tensor, device, layout=None):
    """Copy a batch to ``device`` (asynchronous from pinned memory on CUDA), in memory ``layout``
    (a ``torch.memory_format``) when it is a 4-d image batch."""
    import torch

    device = torch.device(device)
    tensor = tensor.to(device, non_blocking=device.type == "cuda")
    if layout is not None and tensor.dim() == 4:
        tensor = tensor.contiguous(memory_format=layout)
    return tensor

"""The training engine behind Train PyTorch Model.

Shaped like torchvision's reference training scripts: one config object and small top-level
functions (``train_one_epoch``, ``validate``, ``save_checkpoint`` ...) that :func:`train` strings
together.

Reproducibility and resuming. Every epoch is a pure function of (weights, optimizer and
scheduler state, seed, epoch number): the order of the images is drawn from a generator seeded
with (seed, epoch), and each image's random augmentation from torch's generator reseeded with
(seed, epoch, image index) right before the image is transformed — in whichever worker process
loads it (train_data.py). So a run that is killed and started again from its last checkpoint (written
atomically after every epoch) ends with exactly the weights of an uninterrupted run on CPU, and
neither the worker count nor worker restarts change the result.

Distributed. Under ``torchrun`` (``WORLD_SIZE`` > 1) the model is wrapped in
DistributedDataParallel (gloo on CPU, nccl on CUDA), each process trains on its own shard of
every epoch, the learning rate is multiplied by the world size as the designer does, validation
results are summed over the processes, and only rank 0 writes checkpoints and outputs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch

from visionblocks import errors
from visionblocks.learn import models, precision as prec
from visionblocks.learn.conv_kernels import use_gemm_weight_gradient
from visionblocks.learn.distributed import init_distributed
from visionblocks.learn.image_cache import DecodedImages
from visionblocks.data.loading import ImageDataset
from visionblocks.progress import Progress
from visionblocks.device import Launch
from visionblocks.learn.train_data import keep_decoded, make_eval_loader, make_train_loader, open_datasets

CHECKPOINT_FILE = "checkpoint.pth"
METRICS_FILE = "metrics.csv"
CURVE_FILE = "training_curve.png"
# Where training reports its numbers as they happen: report(metrics, step, scope), scope "epoch"
# (step = the epoch, from 1) or "batch" (every Print frequency batches; step = batches since the
# start). The module passes RunContext.log_metrics, which hands them to the run hooks (MLflow,
# TensorBoard); training knows nothing of those.
Report = Callable[[dict, int, str], None]


def _ignore(metrics: dict, step: int, scope: str) -> None:
    pass


@dataclass
class TrainConfig:
    """Train PyTorch Model's parameters, plus the knobs the designer fixes silently."""

    epochs: int = 5
    batch_size: int = 16
    warmup_epochs: int = 0
    learning_rate: float = 0.001
    seed: int = 1
    patience: int = 3
    print_frequency: int = 10
    precision: str = "auto"
    momentum: float = 0.9
    weight_decay: float = 1e-4
    lr_power: float = 2.0  # polynomial decay exponent (the designer does not say)
    num_workers: int | None = None  # None: picked for this machine and data (see _workers)
    cache_decoded: bool = True  # keep decoded images in memory when they fit (image_cache.py)
    checkpoint_dir: Path | None = None  # None: no checkpoints, no resuming


@dataclass
class TrainState:
    """Everything an epoch boundary has to remember; what a checkpoint holds besides the
    model, optimizer and scheduler."""

    epoch: int = 0  # epochs completed
    best_loss: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    best_weights: dict | None = None
    history: list[dict] = field(default_factory=list)


# -- distributed -------------------------------------------------------------------------------

def distributed_device(device: torch.device, dist: Launch) -> torch.device:
    """One GPU per process: the local rank picks it."""
    if dist.distributed and device.type == "cuda":
        return torch.device("cuda", dist.local_rank)
    return device


# -- optimisation ------------------------------------------------------------------------------

def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, dist: Launch) -> torch.optim.Optimizer:
    """SGD with momentum; the learning rate scales with the number of processes (designer).

    The fused kernel updates all parameters in one call: on a 2-core CPU resnet18's step took
    3.7 ms instead of 8.7 ms with the per-parameter loop (7 % of a training step on 32x32 digits).
    """
    fused = next(model.parameters()).device.type in ("cpu", "cuda")
    return torch.optim.SGD(model.parameters(), lr=cfg.learning_rate * dist.world_size, momentum=cfg.momentum,
                           weight_decay=cfg.weight_decay, fused=fused)


def lr_factor(step: int, warmup_steps: int, total_steps: int, power: float) -> float:
    """Linear warm-up from ~0 over ``warmup_steps``, then polynomial decay towards 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    remaining = max(1, total_steps - warmup_steps)
    return max(0.0, 1.0 - (step - warmup_steps) / remaining) ** power


def make_scheduler(optimizer, cfg: TrainConfig, steps_per_epoch: int):
    import functools

    warmup = min(cfg.warmup_epochs, cfg.epochs) * steps_per_epoch
    factor = functools.partial(lr_factor, warmup_steps=warmup, total_steps=cfg.epochs * steps_per_epoch,
                               power=cfg.lr_power)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# -- one epoch ---------------------------------------------------------------------------------

class Meter:
    """Sums of loss, correct predictions and images, kept on the device so that counting does
    not wait for the GPU after every batch; read them only when printing."""

    def __init__(self, device):
        self._sums = torch.zeros(3, dtype=torch.float64, device=device)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
        n = targets.shape[0]
        self._sums[0] += loss.detach().double() * n
        self._sums[1] += (logits.detach().argmax(1) == targets).sum()
        self._sums[2] += n

    def totals(self, dist: Launch) -> tuple[float, float, float]:
        """(loss sum, correct, count), summed over all processes."""
        sums = self._sums.clone()
        if dist.distributed:
            import torch.distributed as tdist

            tdist.all_reduce(sums)
        loss, correct, count = sums.tolist()
        if not math.isfinite(loss):
            raise errors.FailedToCompleteOperationError(
                "The training loss is no longer a finite number.",
                hint="Lower the learning rate; a loss that is not a number usually means it is too large.")
        return loss, correct, count


def train_one_epoch(model, loader, criterion, optimizer, scheduler, scaler, device, precision, cfg: TrainConfig,
                    epoch: int, progress: Progress, dist: Launch, layout=None, report: Report = _ignore) -> dict:
    """One pass over ``loader``; ``layout`` is the model's memory format (precision.memory_format).

    A bar counts the batches; every ``cfg.print_frequency`` batches it shows the loss, accuracy,
    learning rate and speed so far (a line of its own when the output is not a terminal). The
    epoch's summary line is the caller's, so the bar prints no lines of its own.
    """
    model.train()
    meter, start = Meter(device), time.perf_counter()
    with progress.bar(len(loader), f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", lines=False) as bar:
        for step, (images, targets, _) in enumerate(loader, 1):
            images = prec.to_device(images, device, layout)
            targets = prec.to_device(targets, device)
            with prec.autocast(device, precision):
                logits = model(images)
                loss = criterion(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            meter.add(loss, logits, targets)
            bar.advance()
            if step % cfg.print_frequency == 0:
                loss_sum, correct, count = meter.totals(dist)  # every rank takes part in the sum
                rate = count / (time.perf_counter() - start)
                numbers = {"loss": loss_sum / count, "accuracy": correct / count,
                           "learning_rate": optimizer.param_groups[0]["lr"], "images_per_second": rate}
                bar.note(f"loss {numbers['loss']:.4f} accuracy {numbers['accuracy']:.4f} "
                         f"lr {numbers['learning_rate']:.5g} {rate:.1f} images/s")
                report(numbers, epoch * len(loader) + step, "batch")
    loss_sum, correct, count = meter.totals(dist)
    seconds = time.perf_counter() - start
    return {"train_loss": loss_sum / count, "train_accuracy": correct / count,
            "images_per_second": count / seconds, "seconds": seconds}


@torch.inference_mode()
def validate(model, loader, criterion, device, precision, dist: Launch, layout=None) -> dict:
    """Validation loss and accuracy over this rank's shard, summed over ranks. Runs the plain module, not
    the DistributedDataParallel wrapper: shards may differ by a batch, and the wrapper would wait
    for a forward pass the other ranks never make."""
    model = models.unwrap(model)
    model.eval()
    meter = Meter(device)
    for images, targets, _ in loader:
        images = prec.to_device(images, device, layout)
        targets = prec.to_device(targets, device)
        with prec.autocast(device, precision):
            logits = model(images)
            loss = criterion(logits.float(), targets)
        meter.add(loss, logits, targets)
    loss_sum, correct, count = meter.totals(dist)
    return {"val_loss": loss_sum / count, "val_accuracy": correct / count}


# -- checkpoints -------------------------------------------------------------------------------

def save_checkpoint(path: Path, model, optimizer, scheduler, scaler, state: TrainState) -> None:
    """Write atomically: a kill during the write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": models.unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "state": {f.name: getattr(state, f.name) for f in fields(state) if f.name != "best_weights"},
        "best_weights": state.best_weights,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, model, optimizer, scheduler, scaler) -> TrainState:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    models.unwrap(model).load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    return TrainState(**payload["state"], best_weights=payload["best_weights"])


def run_fingerprint(cfg: TrainConfig, untrained: dict, train_dir: Path, val_dir: Path | None,
                    world_size: int) -> str:
    """A key for "the same training run": parameters that change the weights, the model, the
    datasets' image lists and transforms, and the process count. Print frequency is left out."""
    digest = hashlib.sha256()
    ignored = ("print_frequency", "num_workers", "cache_decoded", "checkpoint_dir")  # they do not change the weights
    settings = {k: v for k, v in asdict(cfg).items() if k not in ignored}
    digest.update(json.dumps([settings, untrained, world_size], sort_keys=True, default=str).encode())
    for folder in (train_dir, val_dir):
        if folder is None:
            digest.update(b"-")
            continue
        for name in ("_meta.yaml", "images.lst", "_schema.json", "_transforms.json"):
            path = Path(folder) / name
            digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:16]


# -- outputs -----------------------------------------------------------------------------------

def write_metrics(folder: Path, history: list[dict]) -> None:
    columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate",
               "images_per_second", "seconds"]
    with open(folder / METRICS_FILE, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            writer.writerow({k: row.get(k, "") for k in columns})


def plot_curve(folder: Path, history: list[dict]) -> None:
    """Loss and accuracy per epoch, training and validation, as a PNG.

    Drawn on a ``Figure`` of its own, not through pyplot: saving it to PNG uses the Agg canvas
    without choosing the process's plotting backend or touching the caller's figures.
    """
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in history]
    figure = Figure(figsize=(9, 3.5), dpi=100)
    for axes, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        axes.plot(epochs, [row[f"train_{metric}"] for row in history], marker="o", label="training")
        if any(row.get(f"val_{metric}") is not None for row in history):
            axes.plot(epochs, [row.get(f"val_{metric}") for row in history], marker="o", label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(folder / CURVE_FILE)


# -- the whole run -----------------------------------------------------------------------------

@dataclass
class TrainResult:
    history: list[dict]
    best_epoch: int
    stopped_early: bool
    resumed_from: int  # epochs already done when this process started (0: fresh run)
    prepare_seconds: float = 0.0  # decoding the images into memory, before the first epoch


def train(cfg: TrainConfig, untrained: dict, train_dir: Path, val_dir: Path | None, out_dir: Path,
          device: torch.device | str = "cpu", progress: Progress | None = None, report: Report | None = None
          ) -> TrainResult:
    """Train ``untrained`` (an UntrainedModelDirectory config) on ``train_dir`` and write a
    ModelDirectory into ``out_dir`` (rank 0 only). ``report`` receives the numbers as they happen
    (see :data:`Report`; rank 0 only)."""
    device = torch.device(device)
    dist = init_distributed(device)
    device = distributed_device(device, dist)
    progress = progress if (progress and dist.is_main) else Progress(quiet=True)
    report = report if (report and dist.is_main) else _ignore
    with prec.cuda_speedups(device):
        return _train(cfg, untrained, Path(train_dir), Path(val_dir) if val_dir else None, Path(out_dir),
                      device, progress, dist, report)


def _train(cfg, untrained, train_dir, val_dir, out_dir, device, progress, dist, report: Report) -> TrainResult:
    train_set, val_set = open_datasets(train_dir, val_dir)
    classes = train_set.classes
    input_size = _input_size(train_set)
    pixels = input_size[1] * input_size[2]
    precision = prec.resolve_training_precision(cfg.precision, device, pixels)
    started = time.perf_counter()
    train_data, val_data = keep_decoded(train_set, cfg.cache_decoded), keep_decoded(val_set, cfg.cache_decoded)
    prepare_seconds = time.perf_counter() - started
    if isinstance(train_data, DecodedImages):
        progress.log(f"decoded {len(train_data) + (len(val_data) if val_data is not None else 0)} images into memory "
                     f"in {prepare_seconds:.1f} s")

    torch.manual_seed(cfg.seed)  # the initial weights of the head (and of the whole net from scratch)
    layout = prec.memory_format(device, precision, pixels)
    model = models.build_model(untrained, len(classes)).to(device, memory_format=layout)
    check_input_size(model, input_size, untrained["architecture"], device)
    if device.type == "cpu":
        use_gemm_weight_gradient(model)  # same math, ~1.8x faster steps on small images (conv_kernels.py)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = make_optimizer(model, cfg, dist)
    train_loader = make_train_loader(train_data, cfg.batch_size, cfg.seed, device, dist.rank, dist.world_size,
                                     cfg.num_workers)
    scheduler = make_scheduler(optimizer, cfg, len(train_loader))
    scaler = prec.grad_scaler(device, precision)
    val_loader = (make_eval_loader(val_data, cfg.batch_size, device, dist.rank, dist.world_size, cfg.num_workers)
                  if val_data is not None else None)

    state = TrainState()
    checkpoint = Path(cfg.checkpoint_dir) / CHECKPOINT_FILE if cfg.checkpoint_dir else None
    if checkpoint is not None and checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, optimizer, scheduler, scaler)
        progress.log(f"resuming after epoch {state.epoch} from {checkpoint}")
    resumed_from = state.epoch
    if dist.distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    progress.log(f"{untrained['architecture']} on {len(train_set)} images, {len(classes)} classes; {device}, "
                 f"{precision.reason}" + (f"; {dist.world_size} processes" if dist.distributed else ""))
    while state.epoch < cfg.epochs and not _out_of_patience(state, cfg, val_loader):
        epoch = state.epoch
        train_loader.batch_sampler.set_epoch(epoch)
        lr = optimizer.param_groups[0]["lr"]
        row = {"epoch": epoch + 1, "learning_rate": lr,
               **train_one_epoch(model, train_loader, criterion, optimizer, scheduler, scaler, device, precision,
                                 cfg, epoch, progress, dist, layout, report)}
        if val_loader is not None:
            row.update(validate(model, val_loader, criterion, device, precision, dist, layout))
            _track_best(state, model, row)
        state.history.append(row)
        state.epoch += 1
        progress.log(_epoch_line(row, cfg))
        report({k: v for k, v in row.items() if k not in ("epoch", "seconds")}, row["epoch"], "epoch")
        if checkpoint is not None and dist.is_main:
            save_checkpoint(checkpoint, model, optimizer, scheduler, scaler, state)
    stopped_early = _out_of_patience(state, cfg, val_loader) and state.epoch < cfg.epochs
    if stopped_early:
        progress.log(f"early stop: validation loss has not decreased for {cfg.patience} epochs; "
                     f"keeping the weights of epoch {state.best_epoch}")
    if state.best_weights is not None:
        models.unwrap(model).load_state_dict(state.best_weights)
    if dist.is_main:
        write_outputs(out_dir, model, untrained, classes, train_set.directory.transform, input_size, state.history)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
    return TrainResult(state.history, state.best_epoch or state.epoch, stopped_early, resumed_from, prepare_seconds)


def _track_best(state: TrainState, model, row: dict) -> None:
    """Keep the weights with the lowest validation loss so far (ties keep the earlier epoch)."""
    if row["val_loss"] < state.best_loss:
        state.best_loss, state.best_epoch, state.bad_epochs = row["val_loss"], state.epoch + 1, 0
        state.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in models.unwrap(model).state_dict().items()}
    else:
        state.bad_epochs += 1


def _out_of_patience(state: TrainState, cfg: TrainConfig, val_loader) -> bool:
    """Early stopping needs a validation set: without one, every epoch runs."""
    return val_loader is not None and state.bad_epochs >= cfg.patience


def _epoch_line(row: dict, cfg: TrainConfig) -> str:
    line = (f"epoch {row['epoch']}/{cfg.epochs}: loss {row['train_loss']:.4f} accuracy {row['train_accuracy']:.4f} "
            f"{row['images_per_second']:.1f} images/s")
    if "val_loss" in row:
        line += f"; validation loss {row['val_loss']:.4f} accuracy {row['val_accuracy']:.4f}"
    return line


def _input_size(dataset: ImageDataset) -> list[int]:
    """[C, H, W] of the images as the model sees them at inference."""
    return list(ImageDataset(dataset.directory, mode="inference")[0][0].shape)


def check_input_size(model, input_size: list[int], architecture: str, device) -> None:
    """Fail before training when the images are too small for the network (DenseNet's pooling
    needs about 29 pixels), instead of with torch's message in the middle of the first batch."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=device))
    except RuntimeError as exc:
        raise errors.InvalidDatasetError(
            f"Images of {input_size[-1]}x{input_size[-2]} pixels are too small for {architecture}: {exc}",
            hint="Resize the images with Init Image Transformation and Apply Image Transformation "
                 "(DenseNet needs at least 29 pixels), or choose a ResNet.") from exc
    finally:
        model.train(was_training)


def write_outputs(out_dir: Path, model, untrained: dict, classes: list[str], transform, input_size, history) -> None:
    config = {**untrained, "input_size": input_size}
    models.save_trained(out_dir, model, config, classes, transform)
    write_metrics(out_dir, history)
    plot_curve(out_dir, history)

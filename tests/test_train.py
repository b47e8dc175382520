"""Train PyTorch Model: outputs, designer errors, schedule, early stopping, exact resume after
SIGKILL, and distributed training under torchrun (2 CPU processes): rank 0 alone writes, and the ranks
stay synchronised, equal to one process trained on their combined batches."""

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import visionblocks as vb
from visionblocks import errors, ports
from visionblocks.learn import models
from visionblocks.imagedir import ImageDirectory, ImageEntry
from visionblocks.learn.train import TrainConfig, TrainState, _out_of_patience, _track_best, lr_factor, train
from visionblocks.learn.train_data import EpochBatches

REPO = Path(__file__).resolve().parent.parent
AUGMENT = [["RandomHorizontalFlip", {}], ["ToTensor", {}], ["Normalize", {"mean": [0.5] * 3, "std": [0.5] * 3}]]


def image_directory(raw: Path, out: Path, per_class: int, skip: int = 0, classes=None, labeled=True,
                    transform=None) -> Path:
    """Write an ImageDirectory from the raw digit folders (``per_class`` images from index ``skip``)."""
    classes = classes or sorted(p.name for p in raw.iterdir())
    entries = []
    (out / "image").mkdir(parents=True)
    for name in classes:
        for path in sorted((raw / name).iterdir())[skip:skip + per_class]:
            file_name = f"image/{name}_{path.stem}.png"
            shutil.copyfile(path, out / file_name)
            entries.append(ImageEntry(len(entries), file_name, name if labeled else None, 16, 16, "L"))
    ImageDirectory.write(out, entries, classes if labeled else None, transform,
                         "training" if transform else None)
    return out


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Train with one thread (restored afterwards): on a machine busy with other tests, two OpenMP
    threads waiting for each other make these tiny runs many times slower. Training itself leaves
    the thread count alone (only entry points set it: test_training_leaves_the_thread_count_alone)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(digits_dir, tmp_path_factory):
    """Training (4 per class, with augmentation), validation (2 per class) and an untrained resnet18."""
    root = tmp_path_factory.mktemp("train-data")
    untrained = root / "resnet18"
    models.save_untrained(untrained, models.untrained_config("resnet18", pretrained=False))
    return {
        "untrained_model": untrained,
        "training_dataset": image_directory(digits_dir, root / "train", 4, transform=AUGMENT),
        "validation_dataset": image_directory(digits_dir, root / "val", 2, skip=10),
    }


FAST = {"epochs": 2, "batch_size": 8, "learning_rate": 0.05, "print_frequency": 2}


def test_training_writes_a_model_directory(data, tmp_path):
    result = vb.run_module("train-pytorch-model", inputs=data, params=FAST, out=tmp_path)
    folder = result.outputs["trained_model"]
    assert ports.read_meta(folder)["type"] == ports.MODEL_DIRECTORY
    assert {"_model.pth", "_config.json", "_id_to_class.json", "_transforms.json", "metrics.csv",
            "training_curve.png"} <= {p.name for p in folder.iterdir()}
    assert (folder / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(open(folder / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("train_loss", "val_loss", "images_per_second"))
    assert float(rows[0]["learning_rate"]) == 0.05
    loaded = models.load_trained(folder)
    assert loaded.classes == [str(d) for d in range(10)]
    assert loaded.transform == AUGMENT  # the training images' stored transformation, for scoring
    assert loaded.config["input_size"] == [3, 16, 16] and loaded.config["num_classes"] == 10
    assert loaded.model(torch.zeros(1, 3, 16, 16)).shape == (1, 10)
    assert not (tmp_path / ".checkpoints").exists()  # removed once training has ended


def test_same_weights_with_or_without_workers_and_decoded_cache(data, tmp_path):
    """Each image's augmentation is seeded by (seed, epoch, index), not by the process loading it,
    and the in-memory cache holds exactly the pixels a loader would decode."""
    untrained = models.load_untrained(data["untrained_model"])
    states = []
    for name, options in {"cached": {}, "streamed": {"cache_decoded": False, "num_workers": 1}}.items():
        cfg = TrainConfig(epochs=1, batch_size=8, learning_rate=0.05, precision="fp32", **options)
        train(cfg, untrained, data["training_dataset"], None, tmp_path / name)
        states.append(torch.load(tmp_path / name / "_model.pth", weights_only=True))
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_training_reports_batches_and_epochs_without_process_wide_settings(data, tmp_path, monkeypatch):
    """Plain output (not a terminal): a line every print frequency batches and one per epoch,
    nothing else per batch. Training sets neither the thread count (only entry points do, with
    device.tune_threads) nor matplotlib's backend, and draws the curve without pyplot."""
    import io

    import matplotlib

    from visionblocks.progress import Progress

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the case where threads used to be set
    backend = dict.__getitem__(matplotlib.rcParams, "backend")  # as set, without resolving it
    pyplot_loaded = "matplotlib.pyplot" in sys.modules
    stream = io.StringIO()
    cfg = TrainConfig(epochs=1, batch_size=8, learning_rate=0.05, print_frequency=2, precision="fp32")
    train(cfg, models.load_untrained(data["untrained_model"]), data["training_dataset"], data["validation_dataset"],
          tmp_path / "out", progress=Progress("train", stream, quiet=False))
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert [line.split(":")[0] for line in lines if "batch" in line] == [  # 40 images: 5 batches
        "[train] epoch 1/1 batch 2/5", "[train] epoch 1/1 batch 4/5"]
    assert sum(line.startswith("[train] epoch 1/1: loss") and "validation loss" in line for line in lines) == 1
    assert len(lines) <= 6
    assert torch.get_num_threads() == 1  # the module's fixture set 1
    assert dict.__getitem__(matplotlib.rcParams, "backend") == backend
    assert ("matplotlib.pyplot" in sys.modules) == pyplot_loaded
    assert (tmp_path / "out" / "training_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_bf16_training_in_channels_last_learns(data, tmp_path):
    """The bf16 path (autocast, channels_last model and batches), asked for explicitly so it runs on
    every CPU (emulated where bf16 is not native: slower, the same code), fits the 40 training
    digits: the loss falls to under half its first epoch's and most images end up right (chance is
    one in ten). The weights are saved in fp32."""
    import io

    from visionblocks.progress import Progress

    untrained = models.load_untrained(data["untrained_model"])
    log = io.StringIO()
    cfg = TrainConfig(epochs=6, batch_size=8, learning_rate=0.01, precision="bf16")
    result = train(cfg, untrained, data["training_dataset"], None, tmp_path / "bf16",
                   progress=Progress("train", log, quiet=False))
    assert "bf16 as asked" in log.getvalue()
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < 0.5 * first["train_loss"], result.history
    assert last["train_accuracy"] >= 0.5, result.history
    state = torch.load(tmp_path / "bf16" / "_model.pth", weights_only=True)
    assert all(t.dtype in (torch.float32, torch.int64) for t in state.values())


def test_unlabeled_training_data_is_0024(data, digits_dir, tmp_path):
    unlabeled = image_directory(digits_dir, tmp_path / "unlabeled", 1, labeled=False)
    with pytest.raises(errors.NotLabeledDatasetError):
        vb.run_module("train-pytorch-model", inputs={**data, "training_dataset": unlabeled}, params=FAST,
                      out=tmp_path / "run")
    assert json.loads((tmp_path / "run" / "error_info.json").read_text())["Exception"]["ErrorCode"] == 24


def test_validation_with_other_classes_is_0018(data, digits_dir, tmp_path):
    other = image_directory(digits_dir, tmp_path / "val", 1, classes=["0", "1"])
    with pytest.raises(errors.InvalidDatasetError, match="classes"):
        vb.run_module("train-pytorch-model", inputs={**data, "validation_dataset": other}, params=FAST,
                      out=tmp_path / "run")


def test_a_non_pytorch_model_directory_is_0159(data, tmp_path):
    with pytest.raises(errors.InvalidModelDirectoryError):
        vb.run_module("train-pytorch-model", inputs={**data, "untrained_model": data["training_dataset"]},
                      params=FAST, out=tmp_path / "a")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    ports.write_meta(foreign, ports.UNTRAINED_MODEL_DIRECTORY)
    (foreign / "_config.json").write_text(json.dumps({"learner": "boosted decision tree"}))
    with pytest.raises(errors.InvalidModelDirectoryError, match="not a PyTorch model"):
        vb.run_module("train-pytorch-model", inputs={**data, "untrained_model": foreign}, params=FAST,
                      out=tmp_path / "b")


def test_images_too_small_for_densenet_are_0018(data, tmp_path):
    densenet = tmp_path / "densenet"
    models.save_untrained(densenet, models.untrained_config("densenet121", pretrained=False))
    with pytest.raises(errors.InvalidDatasetError, match="16x16 pixels are too small for densenet121"):
        vb.run_module("train-pytorch-model", inputs={**data, "untrained_model": densenet}, params=FAST,
                      out=tmp_path / "run")


def test_images_of_different_sizes_are_0018(data, digits_dir, tmp_path):
    from visionblocks.datasets import write_digits

    mixed = image_directory(digits_dir, tmp_path / "mixed", 2, classes=["0", "1"])
    big = write_digits(tmp_path / "big", size=20, per_class=1)
    shutil.copyfile(next((big / "1").iterdir()), next((mixed / "image").glob("1_*")))
    with pytest.raises(errors.InvalidDatasetError, match="different sizes"):
        vb.run_module("train-pytorch-model", inputs={**data, "training_dataset": mixed, "validation_dataset": None},
                      params=FAST, out=tmp_path / "run")


def test_learning_rate_default_and_parameter_ranges():
    spec = vb.get_registry().get("train-pytorch-model")
    defaults = {p.name: p.default for p in spec.params}
    assert defaults == {"epochs": 5, "batch_size": 16, "warmup_step_number": 0, "learning_rate": 0.001,
                        "random_seed": 1, "patience": 3, "print_frequency": 10, "precision": "auto"}
    with pytest.raises(errors.GreaterThanError):
        vb.run_module("train-pytorch-model", params={"epochs": 0}, out="/nonexistent")


def test_warm_up_then_polynomial_decay():
    factors = [lr_factor(step, warmup_steps=4, total_steps=12, power=2.0) for step in range(12)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == 1.0 and all(a > b for a, b in zip(factors[4:], factors[5:]))
    assert factors[-1] == pytest.approx((1 / 8) ** 2)
    assert lr_factor(0, 0, 10, 2.0) == 1.0


def test_epoch_batches_are_seeded_sharded_and_never_a_single_image():
    one = EpochBatches(17, 4, seed=1)
    one.set_epoch(3)
    first = list(one)
    assert first == list(one) and all(epoch == 3 for batch in first for epoch, _ in batch)
    assert [len(b) for b in first] == [4, 4, 4, 4]  # the 17th image would be alone: dropped this epoch
    one.set_epoch(4)
    assert list(one) != first
    shards = [EpochBatches(10, 3, seed=1, rank=r, world_size=2) for r in range(2)]
    seen = [[i for batch in s for _, i in batch] for s in shards]
    assert len(seen[0]) == len(seen[1]) == 5 and set(seen[0]) | set(seen[1]) == set(range(10))


def test_early_stopping_keeps_the_best_weights():
    model = torch.nn.Linear(2, 2)
    state, cfg = TrainState(), TrainConfig(patience=2)
    for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.5]):
        with torch.no_grad():
            model.weight.fill_(epoch)
        _track_best(state, model, {"val_loss": loss})
        state.epoch += 1
    assert state.best_epoch == 2 and float(state.best_weights["weight"][0, 0]) == 1.0  # ties keep the earlier
    assert _out_of_patience(state, cfg, val_loader=object())
    assert not _out_of_patience(state, cfg, val_loader=None)  # no validation set: no early stopping


# -- processes ------------------------------------------------------------------------------

def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "visionblocks", *args]


def _train_args(data, out: Path, params: dict) -> list[str]:
    args = ["module", "run", "train-pytorch-model", "--out", str(out)]
    for port, path in data.items():
        args += ["--input", f"{port}={path}"]
    for name, value in params.items():
        args += ["--param", f"{name}={value}"]
    return args


def _env(quiet: bool = True) -> dict:
    # One thread per process: on a machine busy with other tests, two OpenMP threads that wait for
    # each other at every operation make a tiny training run many times slower.
    return {**os.environ, "VISIONBLOCKS_QUIET": "1" if quiet else "0", "VISIONBLOCKS_DEVICE": "cpu",
            "OMP_NUM_THREADS": "1"}


def _weights(folder: Path) -> dict:
    return torch.load(folder / "trained_model" / "_model.pth", weights_only=True)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(data, tmp_path):
    # fp32: oneDNN's bf16 kernels (auto on CPUs with AMX) are not bit-reproducible between two
    # identical runs (weights differed by 4e-6 to 7e-6 after one epoch here), so only fp32 can promise
    # the same weights.
    params = {"epochs": 4, "batch_size": 8, "learning_rate": 0.05, "warmup_step_number": 1, "precision": "fp32"}
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    subprocess.run(_cli(*_train_args(data, straight, params)), env=_env(), check=True, timeout=300)

    victim = subprocess.Popen(_cli(*_train_args(data, resumed, params)), env=_env())
    deadline = time.monotonic() + 240
    while not list(resumed.glob(".checkpoints/*/checkpoint.pth")):
        assert victim.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    assert not (resumed / "trained_model").exists()  # killed before the end: nothing published

    again = subprocess.run(_cli(*_train_args(data, resumed, params)), env=_env(quiet=False), check=True,
                           timeout=300, capture_output=True, text=True)
    assert "resuming after epoch" in again.stderr
    a, b = _weights(straight), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_torchrun_trains_with_two_processes_and_only_rank_0_writes(data, tmp_path):
    out = tmp_path / "ddp"
    params = {"epochs": 1, "batch_size": 8, "learning_rate": 0.05, "print_frequency": 1}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "visionblocks", *_train_args(data, out, params)]
    done = subprocess.run(command, env=_env(quiet=False), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 processes" in done.stderr
    # Every progress line comes from rank 0 alone.
    assert done.stderr.count("epoch 1/1: loss") == 1
    written = {p.name for p in out.iterdir()}
    # TensorBoard's event files (when the package is installed) sit beside the model: one writer, rank 0's.
    assert written - {"tensorboard"} == {"trained_model"}
    if "tensorboard" in written:
        assert len(list((out / "tensorboard").rglob("events.out.tfevents.*"))) == 1
    rows = list(csv.DictReader(open(out / "trained_model" / "metrics.csv")))
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.1)  # 0.05 x world size 2
    assert models.load_trained(out / "trained_model").classes == [str(d) for d in range(10)]


# A rank of the synchronisation test, run under torchrun, and alone (no torchrun) as the
# single-process reference. It trains the real engine (train.train: EpochBatches, SeededItems,
# DistributedDataParallel, the scaled learning rate) on a network without batch norm: batch norm
# normalises each rank's half of a batch by that half's statistics, so a network with it is not
# meant to match one process on the combined batch. It writes the final weights of this rank,
# the weights it started from, and the (epoch, image) keys this rank loaded.
SYNC_WORKER = '''
import json
import sys
from pathlib import Path

import torch

from visionblocks.device import launch
from visionblocks.learn import models, train as engine, train_data

untrained, train_dir, out, batch_size, learning_rate = sys.argv[1:6]
built, started, seen = [], [], []


def small_net(config, num_classes):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(8, num_classes))
    built.append(net)
    started.append({k: v.clone() for k, v in net.state_dict().items()})
    return net


load_item = train_data.SeededItems.__getitem__


def recording_item(self, key):
    seen.append(list(key))
    return load_item(self, key)


models.build_model = small_net
train_data.SeededItems.__getitem__ = recording_item
cfg = engine.TrainConfig(epochs=2, batch_size=int(batch_size), learning_rate=float(learning_rate), precision="fp32")
engine.train(cfg, models.load_untrained(untrained), train_dir, None, Path(out) / "model")
rank = launch().rank
torch.save({"final": built[0].state_dict(), "start": started[0]}, Path(out) / f"rank{rank}.pth")
(Path(out) / f"seen{rank}.json").write_text(json.dumps(seen))
'''
# Weights of two processes on batches of 8 (gradients averaged) and of one process on the same
# 16 images differ only by the order of floating-point sums; a rank that trains on its own half
# ends far outside it.
SYNC_TOLERANCE = 1e-5


def _sync_run(data, out: Path, batch_size: int, learning_rate: float, processes: int) -> dict:
    script = out.parent / "sync_worker.py"
    script.write_text(SYNC_WORKER, encoding="utf-8")
    out.mkdir()
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
                if processes > 1 else [sys.executable])
    done = subprocess.run([*launcher, str(script), str(data["untrained_model"]), str(data["training_dataset"]),
                           str(out), str(batch_size), str(learning_rate)],
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return {rank: {"weights": torch.load(out / f"rank{rank}.pth", weights_only=True),
                   "seen": json.loads((out / f"seen{rank}.json").read_text())} for rank in range(processes)}


@pytest.mark.slow
def test_two_ranks_stay_synchronised_and_equal_one_process_on_the_combined_batch(data, tmp_path):
    """Under torchrun, gradients are averaged over the ranks: both end with the same weights, equal
    (to SYNC_TOLERANCE) to one process trained on both ranks' images at once. The engine multiplies
    the learning rate by the world size, so the reference runs at 2 x 0.05 on batches of 2 x 8.
    Each epoch, every image is loaded by exactly one rank (40 images: no padding needed)."""
    ranks = _sync_run(data, tmp_path / "ddp", batch_size=8, learning_rate=0.05, processes=2)
    alone = _sync_run(data, tmp_path / "alone", batch_size=16, learning_rate=0.1, processes=1)[0]

    final = [ranks[r]["weights"]["final"] for r in (0, 1)]
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])  # all-reduce: bit-identical
    reference, start = alone["weights"]["final"], alone["weights"]["start"]
    assert all(torch.equal(start[k], ranks[1]["weights"]["start"][k]) for k in start)  # same seeded start
    moved = max(float((reference[k] - start[k]).abs().max()) for k in reference)
    assert moved > 100 * SYNC_TOLERANCE  # training changed the weights far more than the tolerance
    for name in reference:
        torch.testing.assert_close(final[0][name], reference[name], rtol=0, atol=SYNC_TOLERANCE, msg=name)

    images = set(range(40))
    for epoch in (0, 1):
        shares = [[index for e, index in ranks[r]["seen"] if e == epoch] for r in (0, 1)]
        assert len(shares[0]) == len(shares[1]) == 20
        assert set(shares[0]).isdisjoint(shares[1]) and set(shares[0]) | set(shares[1]) == images
        assert sorted(index for e, index in alone["seen"] if e == epoch) == sorted(images)


def test_cuda_speedups_are_scoped_to_the_block():
    # cuDNN autotuning and TF32 are process-wide switches: on only inside the block, then restored.
    import torch

    from visionblocks.learn.precision import cuda_speedups

    before = (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    assert before == (False, False, before[2])
    with cuda_speedups("cuda"):  # only the device type matters; no GPU is needed to set the switches
        assert torch.backends.cudnn.benchmark and torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cudnn.allow_tf32
    assert (torch.backends.cudnn.benchmark, torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32) == before
    with cuda_speedups("cpu"):
        assert not torch.backends.cudnn.benchmark

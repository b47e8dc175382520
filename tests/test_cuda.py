"""On a CUDA GPU: the digits pipeline trains and scores on the GPU in every precision, channels_last
is what the model scores in, the GPU agrees with the CPU, and two ranks stay synchronised over nccl.

Skipped where torch sees no CUDA GPU (the CI machine); benchmarks/gpu_check.sh runs this file on a
GPU machine together with the docs examples and benchmarks/bench_gpu.py.
"""

import subprocess
import sys

import numpy as np
import pytest
import torch

from pipeline_helpers import run_digits_pipeline, score_held_out

from visionblocks.dataframe import read_dataframe

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory):
    """examples/digits-pipeline.yaml as shipped, on all 1,797 digits, on the GPU (precision auto)."""
    return run_digits_pipeline(tmp_path_factory.mktemp("cuda-digits"), device="cuda")


def test_the_pipeline_trains_on_the_gpu_to_the_promised_accuracy(gpu_run):
    out, log = gpu_run
    assert {node["status"] for node in log["nodes"]} == {"ran"}
    metrics = read_dataframe(out / "evaluate" / "evaluation_results").iloc[0]
    assert metrics["Images"] == 360
    assert metrics["Overall_Accuracy"] >= 0.95


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precisions_agree_with_fp32_on_the_gpu(gpu_run, tmp_path, precision):
    """Autocast in bf16 and fp16 on the GPU: labels agree with fp32 on >= 99.5 % of the held-out
    digits, and the probabilities differ (the half precision really ran)."""
    fp32 = score_held_out(gpu_run[0], tmp_path / "fp32", "fp32", "cuda")
    half = score_held_out(gpu_run[0], tmp_path / precision, precision, "cuda")
    assert np.mean(half["Scored Labels"].to_numpy() == fp32["Scored Labels"].to_numpy()) >= 0.995
    columns = [c for c in fp32.columns if c.startswith("Scored Probabilities_")]
    difference = np.abs(half[columns].to_numpy() - fp32[columns].to_numpy()).max()
    assert 0 < difference < 0.05, difference


def test_gpu_and_cpu_agree_in_fp32(gpu_run, tmp_path):
    gpu = score_held_out(gpu_run[0], tmp_path / "gpu", "fp32", "cuda")
    cpu = score_held_out(gpu_run[0], tmp_path / "cpu", "fp32", "cpu")
    assert np.mean(gpu["Scored Labels"].to_numpy() == cpu["Scored Labels"].to_numpy()) >= 0.995


def test_training_on_cuda_uses_channels_last():
    """precision.memory_format picks NHWC for CUDA; the model train() builds is moved into it, so its
    convolution weights are channels_last-contiguous on the GPU."""
    from visionblocks.learn import models
    from visionblocks.learn import precision as prec

    layout = prec.memory_format("cuda", prec.resolve_training_precision("auto", "cuda", 32 * 32), 32 * 32)
    assert layout == torch.channels_last
    model = models.build_model(models.untrained_config("resnet18", pretrained=False), 10).to("cuda",
                                                                                             memory_format=layout)
    conv = model.conv1.weight
    assert conv.is_cuda and conv.is_contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(torch.randn(4, 3, 32, 32, device="cuda").contiguous(memory_format=torch.channels_last))
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()


NCCL_WORKER = '''
import sys

import torch
import torch.distributed as tdist

from visionblocks.device import launch
from visionblocks.learn.distributed import join_process_group

job = launch()
device = torch.device("cuda", job.local_rank)
join_process_group(device)
assert tdist.get_backend() == "nccl", tdist.get_backend()
value = torch.full((4,), float(job.rank + 1), device=device)
tdist.all_reduce(value)
Path(sys.argv[1], f"rank{job.rank}.txt").write_text(str(value.sum().item()))
'''


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="nccl needs one GPU per rank")
def test_two_ranks_all_reduce_over_nccl(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(NCCL_WORKER, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Ranks 1 and 2 (plus one) summed on every element: 3 x 4 elements on both ranks.
    assert [(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)] == ["12.0", "12.0"]

"""Score Image Model under torchrun: two CPU processes (gloo) write the same rows, in the same
order, as one process; and the shards that make it so."""

import csv
import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import visionblocks as vb
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.learn.distributed import batch_shards
from visionblocks.progress import QUIET_ENV

from model_helpers import save_random_model

# 40 images in batches of 6: seven batches, the last one partial, shared 3 + 4 by two ranks.
BATCH_SIZE = 6


@given(count=st.integers(0, 500), batch_size=st.integers(1, 64), world_size=st.integers(1, 9))
def test_shards_are_contiguous_whole_batches_in_rank_order(count, batch_size, world_size):
    shards = batch_shards(count, batch_size, world_size)
    assert len(shards) == world_size
    assert [i for shard in shards for i in shard] == list(range(count))
    assert all(shard.start % batch_size == 0 for shard in shards)
    batches = [-(-len(shard) // batch_size) for shard in shards]
    assert max(batches) - min(batches) <= 1  # balanced to within one batch


def test_two_processes_write_the_rows_of_one(tmp_path):
    model_dir = save_random_model(tmp_path / "trained_model", [["Resize", 16], ["ToTensor", {}]])
    raw = write_digits(tmp_path / "raw", size=16, per_class=4)
    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                           out=tmp_path / "convert").outputs["output_image_directory"]
    params = {"precision": "fp32", "batch_size": BATCH_SIZE}
    single = vb.run_module("score-image-model", inputs={"trained_model": model_dir, "dataset": images},
                           params=params, out=tmp_path / "single").outputs["scored_dataset"]

    out = tmp_path / "torchrun"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "visionblocks", "module", "run", "score-image-model",
               "--input", f"trained_model={model_dir}", "--input", f"dataset={images}",
               "--param", "precision=fp32", "--param", f"batch_size={BATCH_SIZE}", "--out", str(out)]
    env = {**os.environ, "VISIONBLOCKS_DEVICE": "cpu", QUIET_ENV: "0"}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    # It really ran in two processes, and only rank 0 reported.
    assert (run.stdout + run.stderr).count("on 2 processes") == 1

    expected, got = read_dataframe(single), read_dataframe(out / "scored_dataset")
    assert len(got) == 40
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


PIPELINE = """\
name: ddp
nodes:
  - id: convert
    module: convert-to-image-directory
    inputs: {input_dataset: raw}
  - id: resnet
    module: resnet
    params: {model_name: resnet18, pretrained: false}
  - id: train
    module: train-pytorch-model
    params: {epochs: 1, batch_size: 8, learning_rate: 0.05, random_seed: 1, precision: fp32}
  - id: score
    module: score-image-model
    params: {precision: fp32, batch_size: 6}
edges:
  - convert.output_image_directory -> train.training_dataset
  - resnet.untrained_model -> train.untrained_model
  - train.trained_model -> score.trained_model
  - convert.output_image_directory -> score.dataset
"""


@pytest.mark.slow
def test_a_pipeline_under_torchrun_trains_and_scores_on_both_ranks_and_logs_once(tmp_path):
    write_digits(tmp_path / "raw", size=16, per_class=4)
    (tmp_path / "ddp.yaml").write_text(PIPELINE)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "visionblocks", "run", str(tmp_path / "ddp.yaml"), "--out", str(out)]
    env = {**os.environ, "VISIONBLOCKS_DEVICE": "cpu", QUIET_ENV: "0"}

    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    log = json.loads((out / "run_log.json").read_text())
    assert [(node["id"], node["status"]) for node in log["nodes"]] == [
        ("convert", "ran"), ("resnet", "ran"), ("train", "ran"), ("score", "ran")]
    assert first.stdout.count("Run folder:") == 1  # rank 0 reports for the job
    # Training ran on two processes: the learning rate is scaled by the world size.
    rows = list(csv.DictReader(open(out / "train" / "trained_model" / "metrics.csv")))
    assert float(rows[0]["learning_rate"]) == pytest.approx(0.1)
    # The distributed scoring gives the rows one process gives with the same model.
    single = vb.run_module("score-image-model", params={"precision": "fp32", "batch_size": 6},
                           inputs={"trained_model": out / "train" / "trained_model",
                                   "dataset": out / "convert" / "output_image_directory"},
                           out=tmp_path / "single").outputs["scored_dataset"]
    pd.testing.assert_frame_equal(read_dataframe(out / "score" / "scored_dataset"), read_dataframe(single),
                                  check_exact=True)

    # Unchanged: every node is reused, and rank 1 learns it from rank 0 instead of waiting.
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    log = json.loads((out / "run_log.json").read_text())
    assert {node["status"] for node in log["nodes"]} == {"reused"}


@pytest.mark.slow
def test_batch_score_command_under_torchrun_writes_the_rows_of_one_process(tmp_path):
    model_dir = save_random_model(tmp_path / "trained_model", [["Resize", 16], ["ToTensor", {}]])
    raw = write_digits(tmp_path / "raw", size=16, per_class=4, labeled=False)
    args = ["score", str(model_dir), str(raw), "--precision", "fp32", "--batch-size", str(BATCH_SIZE)]
    env = {**os.environ, "VISIONBLOCKS_DEVICE": "cpu", QUIET_ENV: "0"}
    single = subprocess.run([sys.executable, "-m", "visionblocks", *args, "--out", str(tmp_path / "one.parquet")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "visionblocks", *args, "--out", str(tmp_path / "two.parquet")]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stderr.count("scored 40 images") == 1  # rank 0 reports and writes
    expected, got = pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "two.parquet")
    assert len(got) == 40
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.parquet", "raw", "trained_model", "two.parquet"]

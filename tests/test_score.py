"""Score Image Model and the Scorer: columns, order, streaming, transformations, errors."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import visionblocks as vb
from visionblocks import errors
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.imagedir import ImageDirectory
from visionblocks.images import open_rgb
from visionblocks.ports import read_meta
from visionblocks.learn.score import Scorer, score_directory

from model_helpers import CLASSES, TRAINING_OPS, save_random_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("model") / "trained_model")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """40 labeled 16x16 digits as an ImageDirectory."""
    raw = write_digits(tmp_path_factory.mktemp("raw"), size=16, per_class=4)
    return vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                         out=tmp_path_factory.mktemp("convert")).outputs["output_image_directory"]


def _score(model_dir, dataset, out, **params):
    result = vb.run_module("score-image-model", inputs={"trained_model": model_dir, "dataset": dataset},
                           params=params, out=out)
    return read_dataframe(result.outputs["scored_dataset"]), result.outputs["scored_dataset"]


def test_scored_dataset_columns_rows_and_meta(model_dir, images, tmp_path):
    table, folder = _score(model_dir, images, tmp_path / "score", batch_size=16)
    directory = ImageDirectory.load(images)
    probability_columns = [f"Scored Probabilities_{c}" for c in CLASSES]
    assert list(table.columns) == ["identifier", "label", "Scored Labels", *probability_columns]
    assert table["identifier"].tolist() == [e.id for e in directory.entries]
    assert table["label"].tolist() == [e.category for e in directory.entries]
    probs = table[probability_columns].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert table["Scored Labels"].tolist() == [CLASSES[i] for i in probs.argmax(axis=1)]
    meta = read_meta(folder)
    assert meta["label_column_name"] == "label"
    assert meta["score_columns"]["Multi Class Assigned Labels"] == "Scored Labels"
    assert meta["classes"] == CLASSES and meta["rows"] == len(directory)
    assert ImageDirectory.load(meta["image_directory"]).root.resolve() == images.resolve()
    # Streamed: one Parquet row group per batch, never the whole table at once.
    assert pq.ParquetFile(folder / "data.parquet").num_row_groups == -(-len(directory) // 16)


def test_unlabeled_images_give_no_label_column(model_dir, tmp_path):
    raw = write_digits(tmp_path / "raw", size=16, per_class=2, labeled=False)
    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                           out=tmp_path / "convert").outputs["output_image_directory"]
    table, folder = _score(model_dir, images, tmp_path / "score")
    assert list(table.columns[:2]) == ["identifier", "Scored Labels"] and "label" not in table.columns
    assert "label_column_name" not in read_meta(folder) and len(table) == 20


def test_the_module_and_predict_images_score_alike(model_dir, images, tmp_path):
    """Raw images get the model's own transformation without its random op, in the module and in
    Scorer.predict_images (the web service's path); a directory prepared by Apply Image
    Transformation for inference gives the same scores too."""
    # fp32: under bf16 (auto on CPUs with AMX) results depend on how images are grouped in batches.
    table, _ = _score(model_dir, images, tmp_path / "raw", precision="fp32")
    probs = table.filter(like="Scored Probabilities_").to_numpy()
    scorer = Scorer(model_dir, device="cpu", precision="fp32")
    assert [op[0] for op in scorer.transform.ops] == ["Resize", "ToTensor", "Normalize"]
    directory = ImageDirectory.load(images)
    pictures = [open_rgb(directory.path_of(e))[0] for e in directory.entries]
    np.testing.assert_allclose(scorer.predict_images(pictures), probs, atol=1e-5)
    assert scorer.labels_of(probs[:3]) == table["Scored Labels"].tolist()[:3]

    from visionblocks.data.transforms import write_transformation_directory

    ops = tmp_path / "ops"
    ops.mkdir()
    write_transformation_directory(ops, TRAINING_OPS)
    prepared = vb.run_module("apply-image-transformation", params={"mode": "For inference"}, out=tmp_path / "apply",
                             inputs={"input_image_transformation": ops, "input_image_directory": images})
    again, _ = _score(model_dir, prepared.outputs["output_image_directory"], tmp_path / "prepared", batch_size=7,
                      precision="fp32")
    np.testing.assert_allclose(again.filter(like="Scored Probabilities_").to_numpy(), probs, atol=1e-5)


def test_predict_images_batches_images_of_different_sizes(model_dir):
    from PIL import Image

    scorer = Scorer(model_dir, device="cpu", batch_size=2)
    pictures = [Image.new("RGB", size, (i * 40, 90, 200)) for i, size in enumerate([(16, 16), (20, 40), (16, 16)])]
    together = scorer.predict_images(pictures)
    alone = np.vstack([scorer.predict_images([p]) for p in pictures])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert together.shape == (3, 10)


def test_precision_choices(model_dir, images, tmp_path):
    with pytest.raises(errors.NotInRangeValueError, match="fp16"):
        Scorer(model_dir, device="cpu", precision="fp16")
    fp32 = Scorer(model_dir, device="cpu", precision="fp32")
    bf16 = Scorer(model_dir, device="cpu", precision="bf16")
    assert (fp32.precision.name, bf16.precision.name) == ("fp32", "bf16")
    batch = torch.stack([fp32.transform(open_rgb(p)[0]) for p in sorted(images.glob("image/*"))[:8]])
    out32, out16 = fp32.predict_tensors(batch), bf16.predict_tensors(batch)
    assert out16.dtype == np.float64 and np.allclose(out16.sum(axis=1), 1.0)
    assert np.abs(out32 - out16).max() < 0.1  # bfloat16 keeps about 3 significant digits


def test_wrong_inputs_name_the_problem(model_dir, images, tmp_path):
    resnet = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False}, out=tmp_path / "resnet")
    with pytest.raises(errors.InvalidModelDirectoryError, match="ModelDirectory"):
        _score(resnet.outputs["untrained_model"], images, tmp_path / "a")
    with pytest.raises(errors.InvalidDatasetError, match="ImageDirectory"):
        _score(model_dir, model_dir, tmp_path / "b")
    with pytest.raises(errors.GreaterThanError):
        _score(model_dir, images, tmp_path / "c", batch_size=0)
    assert not (tmp_path / "c" / "scored_dataset").exists()


def test_score_directory_runs_without_the_registry(model_dir, images, tmp_path):
    summary = score_directory(Scorer(model_dir, device="cpu"), images, tmp_path / "scored", batch_size=100,
                              num_workers=0)
    assert (summary.rows, summary.labeled) == (40, True) and summary.images_per_second > 0

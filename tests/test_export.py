"""ONNX export and the onnx runtime: the folder, the numbers against PyTorch, Score Image Model
with runtime onnx, and the service with --runtime onnx."""

import base64
import json

import httpx
import numpy as np
import onnx
import pytest
import torch

import visionblocks as vb
from service_helpers import start_serve
from visionblocks import cli, errors
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.imagedir import ImageDirectory
from visionblocks.images import open_rgb
from visionblocks.learn import export
from visionblocks.learn.onnx_runtime import OnnxScorer
from visionblocks.learn.score import Scorer, scoring_dataset

from model_helpers import CLASSES, TRAINING_OPS, save_random_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("export-model") / "trained_model")


@pytest.fixture(scope="module")
def exported(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "digits_onnx"
    assert cli.main(["export", str(model_dir), "--format", "onnx", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """200 labeled 16x16 digits as an ImageDirectory."""
    raw = write_digits(tmp_path_factory.mktemp("export-raw"), size=16, per_class=20)
    return vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                         out=tmp_path_factory.mktemp("export-convert")).outputs["output_image_directory"]


def test_the_export_folder_is_self_contained(exported):
    names = {p.name for p in exported.iterdir()}
    assert {"model.onnx", "_id_to_class.json", "_transforms.json", "_config.json", "README.md",
            "requirements.txt", "_meta.yaml"} <= names
    graph = onnx.load(str(exported / "model.onnx"))
    onnx.checker.check_model(graph)
    batch_axis = graph.graph.input[0].type.tensor_type.shape.dim[0]
    assert graph.graph.input[0].name == "images" and batch_axis.dim_param == "batch"
    assert json.loads((exported / "_id_to_class.json").read_text()) == CLASSES
    # The inference transformation as data: the random op is gone, the rest is as trained.
    assert json.loads((exported / "_transforms.json").read_text()) == [op for op in TRAINING_OPS
                                                                       if op[0] != "RandomRotation"]
    assert (exported / "requirements.txt").read_text().startswith("onnxruntime>=")
    assert "`images`" in (exported / "README.md").read_text()
    assert export.is_onnx_export(exported)


def test_onnxruntime_matches_pytorch_fp32_on_200_digits(model_dir, exported, images):
    directory = ImageDirectory.load(images)
    torch_scorer = Scorer(model_dir, "cpu", "fp32")
    onnx_scorer = OnnxScorer(exported)
    batch = torch.stack([scoring_dataset(torch_scorer, directory)[i][0] for i in range(len(directory))])
    assert batch.shape[0] == 200
    expected = torch_scorer.predict_tensors(batch)
    got = onnx_scorer.predict_tensors(batch)
    assert np.abs(expected - got).max() < 1e-4
    # The batch axis is dynamic: one image at a time gives the same numbers.
    one_by_one = np.concatenate([onnx_scorer.predict_tensors(batch[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(one_by_one, got[:5], atol=1e-6)


def _score(model, images, out, **params):
    result = vb.run_module("score-image-model", inputs={"trained_model": model, "dataset": images},
                           params=params, out=out)
    return read_dataframe(result.outputs["scored_dataset"])


def _probabilities(table):
    return table[[f"Scored Probabilities_{c}" for c in CLASSES]].to_numpy()


def test_score_image_model_with_runtime_onnx_gives_the_same_rows(model_dir, exported, images, tmp_path):
    reference = _score(model_dir, images, tmp_path / "torch", precision="fp32")
    probs = _probabilities(reference)
    top2 = np.sort(probs, axis=1)[:, -2:]
    # Labels can only be compared where the two best classes are further apart than the rounding.
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-5
    table = _score(exported, images, tmp_path / "onnx", runtime="onnx")
    assert list(table.columns) == list(reference.columns)
    assert table["identifier"].tolist() == reference["identifier"].tolist()
    assert table["Scored Labels"].tolist() == reference["Scored Labels"].tolist()
    assert np.abs(_probabilities(table) - probs).max() < 1e-4


def test_runtime_mistakes_are_clear_errors(exported, images, tmp_path):
    with pytest.raises(errors.InvalidModelDirectoryError, match="ONNX export"):
        _score(exported, images, tmp_path / "a", runtime="torch")
    with pytest.raises(errors.NotInRangeValueError, match="fp32"):
        _score(exported, images, tmp_path / "b", runtime="onnx", precision="bf16")
    with pytest.raises(errors.NotInRangeValueError):
        _score(exported, images, tmp_path / "c", runtime="tensorrt")


def test_export_refuses_to_overwrite_a_folder_that_is_not_an_export(model_dir, tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert cli.main(["export", str(model_dir), "--out", str(tmp_path)]) == 2
    assert "0046" in capsys.readouterr().err and (tmp_path / "keep.txt").read_text() == "mine"


def test_the_service_with_runtime_onnx_answers_the_same_rows(model_dir, images, tmp_path):
    """Served from the ModelDirectory itself, which the service exports as it starts."""
    directory = ImageDirectory.load(images)
    paths = [directory.path_of(e) for e in directory.entries[:6]]
    body = {"Inputs": {"WebServiceInput0": [{"image": base64.b64encode(p.read_bytes()).decode()} for p in paths]}}
    server = start_serve(model_dir, tmp_path / "serve.log", "--runtime", "onnx")
    try:
        response = httpx.post(f"{server.url}/score", json=body, timeout=60)
        metadata = httpx.get(f"{server.url}/metadata", timeout=60).json()
    finally:
        server.stop()
    assert response.status_code == 200, response.text
    rows = response.json()["Results"]["WebServiceOutput0"]
    assert metadata["classes"] == CLASSES
    scorer = Scorer(model_dir, "cpu", "fp32")
    expected = scorer.predict_images(open_rgb(p)[0] for p in paths)
    assert len(rows) == len(paths)
    for row, probs in zip(rows, expected):
        assert list(row)[:2] == ["Scored Labels", "Scored Probabilities_0"]
        assert row["Scored Labels"] == CLASSES[int(probs.argmax())]
        assert [e["label"] for e in row["top_k"]] == [CLASSES[k] for k in np.argsort(-probs, kind="stable")[:5]]
        assert max(abs(row[f"Scored Probabilities_{c}"] - probs[k]) for k, c in enumerate(CLASSES)) < 1e-4

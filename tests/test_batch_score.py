"""``visionblocks score MODEL_DIR FOLDER_OR_ARCHIVE --out FILE``: the rows of Convert to Image Directory +
Score Image Model, in one command, from a folder or an archive, to Parquet or CSV."""

import shutil

import numpy as np
import pandas as pd
import pytest

import visionblocks as vb
from visionblocks import cli
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits

from model_helpers import CLASSES, save_random_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("model") / "trained_model")


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """30 unlabeled digits in one flat folder, as a user would have them."""
    return write_digits(tmp_path_factory.mktemp("raw") / "photos", size=16, per_class=3, labeled=False)


@pytest.fixture(scope="module")
def pipeline_rows(model_dir, raw, tmp_path_factory):
    """What Convert to Image Directory then Score Image Model give, in fp32."""
    work = tmp_path_factory.mktemp("pipeline")
    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=work / "convert")
    scored = vb.run_module("score-image-model", params={"precision": "fp32"}, out=work / "score",
                           inputs={"trained_model": model_dir, "dataset": images.outputs["output_image_directory"]})
    return read_dataframe(scored.outputs["scored_dataset"])


def _same_rows(table: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(table.columns) == ["identifier", "file", *expected.columns[1:]]
    assert "label" not in table.columns and len(table) == len(expected) == 30
    assert table["identifier"].tolist() == expected["identifier"].tolist()
    assert table["Scored Labels"].astype(str).tolist() == expected["Scored Labels"].tolist()
    probabilities = [f"Scored Probabilities_{c}" for c in CLASSES]
    np.testing.assert_allclose(table[probabilities].to_numpy(), expected[probabilities].to_numpy(), rtol=0, atol=1e-6)


def test_folder_to_parquet_gives_the_pipelines_rows(model_dir, raw, pipeline_rows, tmp_path):
    out = tmp_path / "results" / "scores.parquet"
    assert cli.main(["score", str(model_dir), str(raw), "--out", str(out), "--precision", "fp32"]) == 0
    table = pd.read_parquet(out)
    _same_rows(table, pipeline_rows)
    assert sorted(table["file"]) == sorted(p.name for p in raw.iterdir())
    assert sorted(p.name for p in out.parent.iterdir()) == ["scores.parquet"]  # no staging left behind


def test_archive_to_csv_gives_the_pipelines_rows(model_dir, raw, pipeline_rows, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "photos"), "zip", raw.parent, raw.name)
    out = tmp_path / "scores.csv"
    assert cli.main(["score", str(model_dir), archive, "--out", str(out), "--precision", "fp32",
                     "--batch-size", "7"]) == 0
    table = pd.read_csv(out)
    _same_rows(table, pipeline_rows)
    # The archive's single top folder is its dataset root, as Convert to Image Directory reads it.
    assert sorted(table["file"]) == sorted(p.name for p in raw.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--out", "scores.txt"], "Error 0002 ParameterParsing: Cannot tell the format of scores.txt"),
    ([], "Error 0003 NullOrEmpty: Scoring with a model directory needs --out"),
    (["--out", "s.csv", "--top-k", "3"], "--top-k cannot be used when scoring with a model directory"),
    (["EXTRA", "--out", "s.csv"], "takes one folder or archive of images, not 2 paths"),
])
def test_mistakes_are_clear_errors(model_dir, raw, argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["score", str(model_dir), str(raw), *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_model_options_with_a_service_address_are_refused(capsys, tmp_path):
    assert cli.main(["score", "http://127.0.0.1:9", str(tmp_path / "a.png"), "--precision", "fp32"]) == 2
    assert "--precision cannot be used when scoring with a service address" in capsys.readouterr().err

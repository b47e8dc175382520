"""Run tracking: the reduced digits pipeline recorded in a temporary MLflow SQLite store and read
back with MLflow's client (two runs with different learning rates side by side), TensorBoard's
event file read back, and nothing imported or changed when the extras are absent or tracking is off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# MLflow's own notices: SQLAlchemy deprecations inside its store, advice on type hints.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:.*type hints.*:UserWarning")]

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("tensorboard")

from mlflow.tracking import MlflowClient  # noqa: E402

from visionblocks.dataframe import read_dataframe  # noqa: E402
from visionblocks.datasets import write_digits  # noqa: E402
from visionblocks.pipeline import Pipeline  # noqa: E402
from visionblocks.tracking.mlflow_runs import tracking_uri  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EPOCHS = 2
RATES = {"run-lr-0.05": 0.05, "run-lr-0.01": 0.01}
NODES = {"convert", "split", "init", "apply_train", "apply_test", "resnet", "train", "score", "evaluate"}


def reduced_digits(images: Path, learning_rate: float) -> dict:
    """The shipped digits pipeline on 40 digits of 16 px, 2 short epochs, no augmentation."""
    data = yaml.safe_load((EXAMPLES / "digits-pipeline.yaml").read_text(encoding="utf-8"))
    nodes = {node["id"]: node for node in data["nodes"]}
    nodes["convert"]["inputs"]["input_dataset"] = str(images)
    nodes["init"]["params"]["random_rotation"] = False
    nodes["train"]["params"].update(epochs=EPOCHS, batch_size=8, learning_rate=learning_rate, precision="fp32",
                                    print_frequency=2)
    nodes["score"]["params"]["precision"] = "fp32"
    return data


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    work = tmp_path_factory.mktemp("tracking")
    images = write_digits(work / "digits", size=16, per_class=4)
    for name, rate in RATES.items():
        pipeline = Pipeline.from_dict(reduced_digits(images, rate), base_dir=EXAMPLES)
        pipeline.run(work / name, settings=pipeline.settings(tracking=str(work / "store")))
    client = MlflowClient(tracking_uri(str(work / "store"), work))
    experiment = client.get_experiment_by_name("digits")
    return work, client, client.search_runs([experiment.experiment_id])


def parents(runs):
    return {run.info.run_name: run for run in runs if "mlflow.parentRunId" not in run.data.tags}


def children(runs, parent):
    return {run.info.run_name: run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id}


def test_one_run_per_pipeline_run_and_a_nested_run_per_node(tracked):
    work, _, runs = tracked
    assert set(parents(runs)) == set(RATES)
    for name, parent in parents(runs).items():
        assert parent.info.status == "FINISHED"
        assert set(children(runs, parent)) == NODES
        assert parent.data.params["train.learning_rate"] == str(RATES[name])
        assert parent.data.tags["visionblocks.run_folder"] == str((work / name).resolve())


def test_training_metrics_per_epoch(tracked):
    _, client, runs = tracked
    for parent in parents(runs).values():
        train = children(runs, parent)["train"]
        assert train.data.params["learning_rate"] == parent.data.params["train.learning_rate"]
        for metric in ("train_loss", "train_accuracy", "learning_rate", "images_per_second"):
            history = client.get_metric_history(train.info.run_id, metric)
            assert sorted(point.step for point in history) == list(range(1, EPOCHS + 1)), metric


def test_evaluate_models_accuracy_equals_the_reports_and_the_files_are_kept(tracked):
    work, client, runs = tracked
    for name, parent in parents(runs).items():
        evaluate = children(runs, parent)["evaluate"]
        results = work / name / "evaluate" / "evaluation_results"
        accuracy = float(read_dataframe(results).loc[0, "Overall_Accuracy"])
        assert evaluate.data.metrics["Overall_Accuracy"] == pytest.approx(accuracy, abs=0)
        assert parent.data.metrics["evaluate.Overall_Accuracy"] == pytest.approx(accuracy, abs=0)
        files = {item.path for item in client.list_artifacts(evaluate.info.run_id)}
        assert {"report.html", "charts"} <= files
        charts = {item.path for item in client.list_artifacts(evaluate.info.run_id, "charts")}
        assert "charts/confusion_matrix.png" in charts
        assert "run_log.json" in {item.path for item in client.list_artifacts(parent.info.run_id)}


def test_the_trained_model_is_an_mlflow_model_that_scores_images(tracked):
    work, client, runs = tracked
    parent = parents(runs)["run-lr-0.05"]
    train = children(runs, parent)["train"]
    logged = {item.path for item in client.list_artifacts(train.info.run_id, "model")}
    assert {"model/MLmodel", "model/pyfunc_code.py"} <= logged and "model/python_model.pkl" not in logged
    mlflow.set_tracking_uri(client.tracking_uri)
    model = mlflow.pyfunc.load_model(f"runs:/{train.info.run_id}/model")
    images = sorted((work / "digits").rglob("*.png"))[:3]
    import pandas as pd

    scored = model.predict(pd.DataFrame({"image": [str(path) for path in images]}))
    classes = json.loads((work / "run-lr-0.05" / "train" / "trained_model" / "_id_to_class.json").read_text())
    assert list(scored.columns) == ["Scored Labels", *(f"Scored Probabilities_{c}" for c in classes)]
    assert len(scored) == 3 and set(scored["Scored Labels"]) <= set(classes)


def test_tensorboard_event_file_has_one_loss_per_epoch(tracked):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    work, _, _ = tracked
    folder = work / "run-lr-0.05" / "train" / "tensorboard"
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(folder))
    events.Reload()
    assert [event.step for event in events.Scalars("epoch/train_loss")] == list(range(1, EPOCHS + 1))
    assert events.Scalars("batch/loss"), "the Print frequency steps are there too"
    model_files = {path.name for path in (work / "run-lr-0.05" / "train" / "trained_model").iterdir()}
    assert not any(name.startswith("events") for name in model_files), "the ModelDirectory stays as it was"


# -- without the extras, or with tracking off ---------------------------------------------------

# Runs the CLI with some packages made unimportable (as if not installed), then reports whether
# MLflow and TensorBoard were imported.
_CLI = """
import json, sys
blocked = set(filter(None, sys.argv[1].split(",")))

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
from visionblocks.cli import main
status = main(sys.argv[2:])
loaded = {m.split(".")[0] for m in sys.modules}
print(json.dumps({"status": status, "mlflow": "mlflow" in loaded, "tensorboard": "tensorboard" in loaded}),
      file=sys.stderr)
"""


def cli(blocked: str, *args: str, env: dict | None = None) -> tuple[dict, str]:
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    result = subprocess.run([sys.executable, "-c", _CLI, blocked, *args], capture_output=True, text=True,
                            env={**environment, "VISIONBLOCKS_QUIET": "1", **(env or {})}, timeout=600)
    return json.loads(result.stderr.strip().splitlines()[-1]), result.stderr


@pytest.fixture(scope="module")
def small_pipeline(tmp_path_factory):
    work = tmp_path_factory.mktemp("untracked")
    images = write_digits(work / "digits", size=16, per_class=2)
    data = {"name": "tiny", "nodes": [
        {"id": "convert", "module": "convert-to-image-directory", "inputs": {"input_dataset": str(images)}},
        {"id": "resnet", "module": "resnet", "params": {"model_name": "resnet18", "pretrained": False}},
        {"id": "train", "module": "train-pytorch-model",
         "params": {"epochs": 1, "batch_size": 10, "precision": "fp32", "print_frequency": 1}}],
        "edges": ["convert.output_image_directory -> train.training_dataset",
                  "resnet.untrained_model -> train.untrained_model"]}
    path = work / "tiny.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return work, path


def test_tracking_off_imports_no_mlflow(small_pipeline):
    work, path = small_pipeline
    found, stderr = cli("", "run", str(path), "--out", str(work / "on"))
    assert found == {"status": 0, "mlflow": False, "tensorboard": True}, stderr
    assert list((work / "on" / "train" / "tensorboard").glob("events.out.tfevents.*"))


def test_without_the_extras_nothing_changes_and_nothing_is_imported(small_pipeline):
    work, path = small_pipeline
    found, stderr = cli("mlflow,tensorboard", "run", str(path), "--out", str(work / "absent"))
    assert found == {"status": 0, "mlflow": False, "tensorboard": False}, stderr
    assert not (work / "absent" / "train" / "tensorboard").exists()
    model = {p.name for p in (work / "absent" / "train" / "trained_model").iterdir()}
    assert model == {"_config.json", "_id_to_class.json", "_meta.yaml", "_model.pth", "_transforms.json",
                     "metrics.csv", "training_curve.png"}
    # Asked for without MLflow: refused before anything runs, with what to install.
    found, stderr = cli("mlflow", "run", str(path), "--out", str(work / "refused"), "--tracking")
    assert found["status"] == 2 and "visionblocks[mlflow]" in stderr
    assert not (work / "refused" / "convert").exists()
    # Only the environment asks: the run goes on untracked, with a note.
    found, stderr = cli("mlflow", "run", str(path), "--out", str(work / "env"),
                        env={"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'env.db'}"})
    assert found["status"] == 0 and "MLFLOW_TRACKING_URI is set but MLflow is not installed" in stderr

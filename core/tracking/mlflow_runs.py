"""MLflow tracking of pipeline runs: a built-in plugin on the run hooks.

One MLflow run per pipeline run (in the experiment named after the pipeline, named after the run
folder), with every node's parameters as ``<node>.<parameter>``, Evaluate Model's metrics as
``<node>.<metric>`` and the run log; one nested run per node, with its own parameters, the
metrics its module reports (Train PyTorch Model: one value per epoch, as the epoch ends) and its
files (Evaluate Model's report and charts, the trained model as an MLflow model). A node whose
cached output was reused gets a nested run too, tagged ``visionblocks.status = reused``.

Where: ``visionblocks run --tracking [URI|PATH]``, the pipeline's ``tracking:`` line, or else
``MLFLOW_TRACKING_URI``. A URI is used as it is; a path names an SQLite file (``.db``) or a folder
that gets ``mlflow.db``; ``--tracking`` alone (``tracking: true``) is ``mlflow.db`` in the folder
that holds the run folder, so runs side by side in ``runs/`` share one store. An SQLite store
keeps its files in ``mlartifacts/`` beside the database (not in the working directory).

A tracking failure in the middle of a run (a server that goes away) stops the tracking with a
warning, not the run: hours of training are worth more than their record.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import visionblocks
from visionblocks import errors

ENV = "MLFLOW_TRACKING_URI"
STORE_FILE = "mlflow.db"
ARTIFACTS_FOLDER = "mlartifacts"
INSTALL_HINT = "Install the extra: pip install 'visionblocks[mlflow]'."
_URI_WORDS = ("databricks", "databricks-uc")  # URIs without "://"
# Where each kind of file goes in a node's MLflow run (the model has its own folder, ``model``).
_FOLDERS = {"report": None, "chart": "charts", "table": "tables"}
# Metric scopes MLflow records; "batch" values (every Print frequency batches) go to TensorBoard.
_SCOPES = ("epoch", "result")


def tracking_uri(value: str | None, out: Path) -> str | None:
    """The MLflow tracking URI for a run in ``out``, from the run's ``tracking`` setting (see the
    module docstring); ``None``: no tracking."""
    if value is None:
        return os.environ.get(ENV) or None
    if value == "":
        return _sqlite(Path(out).resolve().parent / STORE_FILE)
    if "://" in value or value in _URI_WORDS or value.startswith("file:"):
        return value
    path = Path(value).expanduser().resolve()
    return _sqlite(path if path.suffix == ".db" else path / STORE_FILE)


def _sqlite(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass
class _Tracked:
    """An MLflow run in progress: its client, the pipeline's run id and experiment, and each node's run id."""

    client: object
    uri: str
    parent: str
    experiment_id: str
    children: dict[str, str] = field(default_factory=dict)


class MlflowTracking:
    """The hook implementations; one tracked pipeline run at a time per :class:`RunInfo` id."""

    def __init__(self) -> None:
        self.active: dict[str, _Tracked] = {}

    @visionblocks.hookimpl
    def visionblocks_run_started(self, run):
        uri = tracking_uri(run.settings.tracking, run.out)
        if uri is None:
            return
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            if run.settings.tracking is None:  # only the environment asked: say so, run untracked
                _tell(f"{ENV} is set but MLflow is not installed; the run is not tracked. {INSTALL_HINT}")
                return
            raise errors.FailedToCompleteOperationError(
                "Tracking was asked for, but MLflow is not installed.", hint=INSTALL_HINT) from None
        try:
            self.active[run.id] = _start(MlflowClient(uri), uri, run)
        except Exception as exc:  # noqa: BLE001 - any failure of the store, before anything ran
            raise errors.FailedToCompleteOperationError(
                f"Cannot record the run in MLflow at {uri}: {exc}",
                hint="Check the tracking URI (--tracking, the pipeline's tracking line or MLFLOW_TRACKING_URI).",
            ) from exc

    @visionblocks.hookimpl
    def visionblocks_node_started(self, run, node):
        self._guarded(run, _start_node, node)

    @visionblocks.hookimpl
    def visionblocks_metrics(self, run, node, metrics, step, scope):
        if scope in _SCOPES:
            self._guarded(run, _log_metrics, node, metrics, step, scope)

    @visionblocks.hookimpl
    def visionblocks_artifact(self, run, node, path, kind):
        self._guarded(run, _log_artifact, node, Path(path), kind)

    @visionblocks.hookimpl
    def visionblocks_node_finished(self, run, node, status, error):
        self._guarded(run, _end_node, node, status)

    @visionblocks.hookimpl
    def visionblocks_run_finished(self, run, log, error):
        tracked = self.active.pop(run.id, None)
        if tracked is not None:
            try:
                _end(tracked, run, error)
            except Exception as exc:  # noqa: BLE001
                _tell(f"MLflow tracking failed at the end of the run: {exc}")

    def _guarded(self, run, action, *args) -> None:
        """Do ``action`` for a tracked run; on failure warn once and stop tracking this run."""
        tracked = self.active.get(run.id)
        if tracked is None:
            return
        try:
            action(tracked, *args)
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            self.active.pop(run.id, None)
            _tell(f"MLflow tracking stopped: {exc}")


def _tell(message: str) -> None:
    print(f"visionblocks: {message}", file=sys.stderr)


def _start(client, uri: str, run) -> _Tracked:
    experiment = client.get_experiment_by_name(run.name)
    if experiment is not None:
        experiment_id = experiment.experiment_id
    else:
        location = None
        if uri.startswith("sqlite:///"):  # else MLflow would put the files in ./mlruns of the working directory
            location = (Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS_FOLDER).as_uri()
        experiment_id = client.create_experiment(run.name, artifact_location=location)
    tags = {"visionblocks.run_folder": str(Path(run.out).resolve()), "visionblocks.language": run.settings.language}
    if run.pipeline is not None:
        tags.update({"visionblocks.pipeline": str(Path(run.pipeline).resolve()),
                     "mlflow.source.name": str(run.pipeline)})
    parent = client.create_run(experiment_id, run_name=Path(run.out).name, tags=tags)
    params = {f"{node['id']}.{name}": value for node in run.nodes for name, value in node["params"].items()}
    _log_params(client, parent.info.run_id, params)
    return _Tracked(client, uri, parent.info.run_id, experiment_id)


def _log_params(client, run_id: str, params: dict) -> None:
    from mlflow.entities import Param

    items = [Param(name, str(value)) for name, value in params.items()]
    for start in range(0, len(items), 100):  # MLflow takes at most 100 parameters per call
        client.log_batch(run_id, params=items[start:start + 100])


def _start_node(tracked: _Tracked, node) -> str:
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    child = tracked.client.create_run(tracked.experiment_id, run_name=node.id, tags={
        MLFLOW_PARENT_RUN_ID: tracked.parent, "visionblocks.module": node.module})
    tracked.children[node.id] = child.info.run_id
    _log_params(tracked.client, child.info.run_id, node.params)
    return child.info.run_id


def _log_metrics(tracked: _Tracked, node, metrics: dict, step: int, scope: str) -> None:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    values = {name: float(value) for name, value in metrics.items() if value is not None}
    child = tracked.children.get(node.id) or _start_node(tracked, node)
    tracked.client.log_batch(child, metrics=[Metric(name, value, now, step) for name, value in values.items()])
    if scope == "result":  # final numbers also on the pipeline's run, to compare runs in one table
        tracked.client.log_batch(tracked.parent, metrics=[
            Metric(f"{node.id}.{name}", value, now, step) for name, value in values.items()])


def _log_artifact(tracked: _Tracked, node, path: Path, kind: str) -> None:
    child = tracked.children.get(node.id) or _start_node(tracked, node)
    if kind == "model":
        import warnings

        with warnings.catch_warnings():  # MLflow advises type hints on predict when the class is defined
            warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)
            from visionblocks.tracking.pyfunc_model import log_model
        log_model(tracked.client, child, path)
    elif path.is_dir():
        tracked.client.log_artifacts(child, str(path), _FOLDERS.get(kind, kind))
    else:
        tracked.client.log_artifact(child, str(path), _FOLDERS.get(kind, kind))


def _end_node(tracked: _Tracked, node, status: str) -> None:
    child = tracked.children.pop(node.id, None)
    if child is None:  # a reused node: a run that says so, so every node has one
        child = _start_node(tracked, node)
        tracked.children.pop(node.id)
    tracked.client.set_tag(child, "visionblocks.status", status)
    tracked.client.set_terminated(child, "FAILED" if status == "failed" else "FINISHED")


def _end(tracked: _Tracked, run, error) -> None:
    import json
    import tempfile

    for child in tracked.children.values():  # nodes an interruption left open
        tracked.client.set_terminated(child, "KILLED")
    from visionblocks.pipeline import RUN_LOG

    log_file = Path(run.out) / RUN_LOG
    if error is None and log_file.is_file():
        tracked.client.log_artifact(tracked.parent, str(log_file))
    elif error is not None:
        with tempfile.TemporaryDirectory() as folder:
            note = Path(folder) / "error.json"
            note.write_text(json.dumps({"error": f"{type(error).__name__}: {error}"}), encoding="utf-8")
            tracked.client.log_artifact(tracked.parent, str(note))
    tracked.client.set_terminated(tracked.parent, "FINISHED" if error is None else "FAILED")
    _tell(f"MLflow run {tracked.parent} recorded in {tracked.uri}; to see it: mlflow ui --backend-store-uri {tracked.uri}")


plugin = MlflowTracking()

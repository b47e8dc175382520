"""What the run hooks see of a run: :class:`RunSettings`, :class:`RunInfo`, :class:`NodeInfo`.

The pipeline runner and the module runner announce a run's life through the plugin manager
(``visionblocks_run_started``, ``visionblocks_node_started``, ``visionblocks_metrics``,
``visionblocks_artifact``, ``visionblocks_node_finished``, ``visionblocks_run_finished``; see
:mod:`visionblocks.hookspecs`). Tracking (MLflow, TensorBoard) is built on those hooks as plugins,
so the runners never import a tracking library: they only fill in these records and call
:func:`emit`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RunSettings:
    """Run-wide choices that are not module parameters.

    ``tracking``: where MLflow records the run, as given (a URI, a path, or ``""`` for the default
    store beside the run folder); ``None`` leaves it to ``MLFLOW_TRACKING_URI``, else no tracking.
    ``language``: the language of what modules write for people (Evaluate Model's report).
    ``tensorboard``: a folder for TensorBoard event files; ``None``: each node's own run folder.
    """

    tracking: str | None = None
    language: str = "en"
    tensorboard: Path | None = None


@dataclass
class RunInfo:
    """One pipeline run (or one module run on its own, then ``pipeline`` is ``None``)."""

    name: str
    out: Path
    settings: RunSettings = field(default_factory=RunSettings)
    pipeline: Path | None = None  # the YAML file, when there is one
    nodes: list[dict] = field(default_factory=list)  # [{"id", "module", "params"}] in run order
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class NodeInfo:
    """One node of a run: its module, validated parameters and folders.

    ``outputs`` are the paths the outputs are published at (during the run a module writes into
    temporary folders that replace them when it succeeds)."""

    id: str
    module: str
    params: dict[str, Any]
    run_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    output_types: dict[str, str] = field(default_factory=dict)


def emit(hook: str, **kwargs) -> list:
    """Call ``hook`` on every plugin that implements it; return their answers."""
    from visionblocks.plugin_host import get_plugin_manager

    return getattr(get_plugin_manager().hook, hook)(**kwargs)

"""Running one module: validate parameters and inputs, run, publish outputs atomically.

This is the single path every entry point takes (CLI ``module run``, the Python API, the
pipeline runner), so validation and error reporting are the same everywhere.
"""

from __future__ import annotations

import contextlib

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionblocks import errors, ports
from visionblocks.events import NodeInfo, RunInfo, emit
from visionblocks.params import validate_params
from visionblocks.progress import Progress
from visionblocks.spec import ModuleSpec
from visionblocks.device import launch

# The designer's error for "this input is not the kind of directory I expect", by port type.
_WRONG_TYPE_ERROR = {
    ports.MODEL_DIRECTORY: errors.InvalidModelDirectoryError,
    ports.UNTRAINED_MODEL_DIRECTORY: errors.InvalidModelDirectoryError,
    ports.TRANSFORMATION_DIRECTORY: errors.InvalidTransformationDirectoryError,
    ports.IMAGE_DIRECTORY: errors.InvalidDatasetError,
    ports.DATAFRAME_DIRECTORY: errors.InvalidDatasetError,
}


@dataclass
class RunContext:
    """What a module's ``run`` receives.

    ``inputs`` maps input port names to paths (``None`` for an unconnected optional port);
    ``outputs`` maps output port names to empty directories to write into; ``params`` holds
    validated values for every parameter.
    """

    spec: ModuleSpec
    params: dict[str, Any]
    inputs: dict[str, Path | None]
    outputs: dict[str, Path]
    device_request: str | None = None
    progress: Progress = field(default_factory=Progress)
    # The folder the outputs are published in (the same on every torchrun rank, unlike
    # ``outputs``); a module may keep resumable state there, e.g. training checkpoints.
    run_dir: Path | None = None
    # The run this module belongs to (a pipeline run, or one of its own) and its node, for the
    # run hooks; ``announce`` is off on torchrun ranks other than 0, which report nothing.
    run: RunInfo | None = None
    node: NodeInfo | None = None
    announce: bool = True
    # Run settings the module read (name -> value); the pipeline's cache keeps the output only
    # while they stay the same (a report written in Russian is not reused for a Spanish run).
    settings_read: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self):
        from visionblocks.device import resolve_device

        return resolve_device(self.device_request)

    @property
    def language(self) -> str:
        """The run's language for what the module writes for people (``en`` unless the pipeline's
        ``language:`` or ``visionblocks run --lang`` says otherwise)."""
        value = self.run.settings.language if self.run else "en"
        self.settings_read["language"] = value
        return value

    def log_metrics(self, metrics: dict[str, float], step: int = 0, scope: str = "epoch") -> None:
        """Report numbers as they happen (``visionblocks_metrics``; see the hook's scopes)."""
        if self.announce and self.run is not None:
            emit("visionblocks_metrics", run=self.run, node=self.node, metrics=dict(metrics), step=step, scope=scope)

    def log_artifact(self, path: Path, kind: str) -> None:
        """Point at a file or folder worth keeping with the run (``visionblocks_artifact``)."""
        if self.announce and self.run is not None:
            emit("visionblocks_artifact", run=self.run, node=self.node, path=Path(path), kind=kind)


@dataclass
class ModuleResult:
    module: str
    outputs: dict[str, Path]
    seconds: float
    settings_read: dict[str, Any] = field(default_factory=dict)  # see RunContext.settings_read


def check_inputs(spec: ModuleSpec, inputs: dict[str, Any]) -> dict[str, Path | None]:
    unknown = sorted(set(inputs) - {p.name for p in spec.inputs})
    if unknown:
        raise errors.NullOrEmptyError(
            f"Module '{spec.id}' has no input port {', '.join(map(repr, unknown))}; "
            f"its inputs are: {', '.join(p.name for p in spec.inputs) or 'none'}."
        )
    checked: dict[str, Path | None] = {}
    for port in spec.inputs:
        value = inputs.get(port.name)
        if value is None:
            if not port.optional:
                raise errors.NullOrEmptyError(f"Input '{port.name}' ({port.label}) of '{spec.id}' is not connected.")
            checked[port.name] = None
            continue
        path = Path(value)
        if port.type == ports.ANY_DIRECTORY:
            if not path.exists():
                raise errors.NullOrEmptyError(f"Input '{port.name}' ({port.label}): {path} does not exist.")
        else:
            ports.require_type(path, port.type, port.label, _WRONG_TYPE_ERROR.get(port.type))
        checked[port.name] = path
    return checked


def run_spec(
    spec: ModuleSpec,
    inputs: dict[str, Any] | None,
    params: dict[str, Any] | None,
    out: Path,
    device: str | None = None,
    progress: Progress | None = None,
    run: RunInfo | None = None,
    node_id: str | None = None,
    validated: bool = False,
) -> ModuleResult:
    """Run ``spec`` and publish each output port as ``out/<port name>/``.

    On failure ``out/error_info.json`` records the designer's error and the exception is re-raised;
    outputs of a failed run are never published.

    Under ``torchrun`` every process runs the module, but only rank 0 publishes: the other ranks
    run into a throwaway folder, write no error record, and their (empty) outputs are not checked.

    ``run`` is the pipeline run this is a node of (``node_id``); a module run on its own is a run
    of its own. Rank 0 announces the node to the run hooks (``visionblocks_node_started``,
    ``visionblocks_node_finished``) and passes on what the module reports.

    ``validated`` says ``params`` already are :func:`~visionblocks.params.validate_params`' result
    for ``spec`` (the pipeline checks every node's parameters before running any), so they are not
    checked a second time.
    """
    out = ports.require_output_folder(out)
    rank = launch().rank
    run = run or RunInfo(spec.id, out)
    if rank == 0:
        return _run(spec, inputs, params, out, device, progress, out, run, node_id, validated)
    scratch = Path(tempfile.mkdtemp(prefix=f"visionblocks-rank{rank}-"))
    try:
        result = _run(spec, inputs, params, out, device, progress, scratch, run, node_id, validated)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ModuleResult(spec.id, {port.name: out / port.name for port in spec.outputs}, result.seconds,
                        result.settings_read)


def _run(spec, inputs, params, out: Path, device, progress, workdir: Path, run: RunInfo,
         node_id: str | None, validated: bool) -> ModuleResult:
    """Run into ``workdir`` (``out`` itself, or a throwaway folder on ranks other than 0)."""
    publish = workdir == out
    start = time.perf_counter()
    node = None
    try:
        values = dict(params) if validated else validate_params(spec, params)
        checked = check_inputs(spec, inputs or {})
        final = {port.name: workdir / port.name for port in spec.outputs}
        node = node_info(node_id or spec.id, spec, values, out)
        if publish:
            emit("visionblocks_node_started", run=run, node=node)
        with contextlib.ExitStack() as stack:
            temp = {name: stack.enter_context(ports.atomic_directory(path)) for name, path in final.items()}
            ctx = RunContext(spec, values, checked, temp, device, progress or Progress(spec.id), out, run, node,
                             announce=publish)
            spec.run(ctx)
            for port in spec.outputs if publish else ():
                found = ports.port_type_of(temp[port.name])
                if found != port.type:
                    raise errors.FailedToWriteOutputsError(
                        f"module '{spec.id}' wrote {found or 'no typed output'} to '{port.name}', expected {port.type}."
                    )
        (out / "error_info.json").unlink(missing_ok=True)
    except BaseException as exc:
        if isinstance(exc, Exception) and publish:
            _record_error(out, exc)
        if publish and node is not None:
            emit("visionblocks_node_finished", run=run, node=node, status="failed", error=exc)
        raise
    if publish:
        emit("visionblocks_node_finished", run=run, node=node, status="ran", error=None)
    return ModuleResult(spec.id, final, time.perf_counter() - start, ctx.settings_read)


def node_info(node_id: str, spec: ModuleSpec, params: dict[str, Any], out: Path) -> NodeInfo:
    """What the run hooks see of a node whose folder is ``out``."""
    return NodeInfo(node_id, spec.id, params, out, {p.name: out / p.name for p in spec.outputs},
                    {p.name: p.type for p in spec.outputs})


def _record_error(out: Path, exc: Exception) -> None:
    """Write ``error_info.json``; when even that fails (the disk is full) the error itself still
    reaches the caller, which matters more than its record."""
    try:
        errors.write_error_info(out, exc)
    except OSError:
        pass


def run_module(module_id: str, inputs=None, params=None, out=".", device=None, progress=None) -> ModuleResult:
    """Run one registered module by id (the Python API of ``visionblocks module run``)."""
    from visionblocks.plugin_host import get_registry

    return run_spec(get_registry().get(module_id), inputs, params, Path(out), device, progress)

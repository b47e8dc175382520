"""Pipelines: a YAML file of nodes (module + parameters) and edges (``a.out -> b.in``).

The whole file is checked before anything runs — unknown modules or ports, type mismatches,
missing required inputs, cycles and bad parameters are each refused with an error naming the
node and port. Nodes then run in topological order. A node whose module version, parameters
and input contents are unchanged reuses its cached output, as the designer does.

Every node's record (``_node.json``) keeps the parameters and input hashes it ran with, so
:meth:`Pipeline.explain` (``visionblocks run --explain``) can say, before anything runs, which node
reruns and why — a parameter's old and new value, an input whose content changed and where it
comes from, a new module version, no cached output — and the run log says the same after a run.

Format::

    name: digits
    nodes:
      - id: convert
        module: convert-to-image-directory
        inputs: {input_dataset: data/digits}   # external inputs: paths relative to this file
      - id: split
        module: split-image-directory
        params: {fraction: 0.8}
    edges:
      - convert.output_image_directory -> split.input_image_directory
    # optional run options (the CLI's --lang, --tracking and --tensorboard override them):
    language: ru          # what modules write for people (Evaluate Model's report): en es pt ru fr
    tracking: true        # MLflow: true = the SQLite store beside the run folder, or a URI or path
    tensorboard: tb-logs  # a folder for TensorBoard event files (default: each node's run folder)

The runner announces the run, each node, and what modules report through the run hooks
(:mod:`visionblocks.hookspecs`), which the tracking plugins implement; it imports none of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Iterator

import yaml

from visionblocks import errors, ports
from visionblocks.device import launch
from visionblocks.events import RunInfo, RunSettings, emit
from visionblocks.params import validate_params
from visionblocks.progress import Progress
from visionblocks.registry import Registry, UnknownModuleError
from visionblocks.runner import node_info, run_spec
from visionblocks.spec import ModuleSpec, Port

LOCK_FILE = ".lock"
TORCHRUN_DIR = ".torchrun"  # how the ranks of a torchrun job agree on a run (RankSync)
# How long the other ranks wait for rank 0 to reach a distributed node, and how often they look.
RANK_WAIT_S = 6 * 3600
RANK_POLL_S = 0.2
_EDGE = re.compile(r"^\s*([\w-]+)\.(\w+)\s*->\s*([\w-]+)\.(\w+)\s*$")
NODE_RECORD = "_node.json"
RUN_LOG = "run_log.json"


@dataclass
class Node:
    id: str
    module: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # external inputs (paths)


@dataclass(frozen=True)
class Edge:
    source: str
    source_port: str
    target: str
    target_port: str

    def __str__(self):
        return f"{self.source}.{self.source_port} -> {self.target}.{self.target_port}"


def _fail(message: str, hint: str = "") -> errors.PipelineError:
    return errors.PipelineError(message, hint=hint or None)


def _module_of(node: Node, registry: Registry) -> ModuleSpec:
    try:
        return registry.get(node.module)
    except UnknownModuleError as exc:
        raise _fail(f"Node '{node.id}': {exc}", "Run 'visionblocks modules' to list installed modules.") from None


def _port(candidates: tuple[Port, ...], name: str, missing: str) -> Port:
    """The port called ``name``; otherwise a PipelineError that starts with ``missing``."""
    for port in candidates:
        if port.name == name:
            return port
    known = ", ".join(port.name for port in candidates) or "none"
    raise _fail(f"{missing} '{name}' (known: {known}).")


def _check_edge(edge: Edge, specs: dict[str, ModuleSpec]) -> None:
    """Both ends name a node and a port of its module, and the output's type fits the input."""
    for node_id in (edge.source, edge.target):
        if node_id not in specs:
            raise _fail(f"Edge '{edge}' names unknown node '{node_id}'.")
    source = _port(specs[edge.source].outputs, edge.source_port,
                   f"Edge '{edge}': node '{edge.source}' has no output port")
    target = _port(specs[edge.target].inputs, edge.target_port,
                   f"Edge '{edge}': node '{edge.target}' has no input port")
    if not ports.compatible(source.type, target.type):
        raise _fail(
            f"Edge '{edge}': type mismatch — node '{edge.source}' port '{edge.source_port}' gives a "
            f"{source.type}, node '{edge.target}' port '{edge.target_port}' takes a {target.type}."
        )


def _check_required_inputs(node: Node, spec: ModuleSpec, connected: set[tuple[str, str]]) -> None:
    for port in spec.inputs:
        if not port.optional and (node.id, port.name) not in connected and port.name not in node.inputs:
            raise _fail(f"Node '{node.id}' ({spec.id}): required input port '{port.name}' ({port.label}) is not connected.")


def _check_params(node: Node, spec: ModuleSpec) -> dict[str, Any]:
    """The module's own parameter check, with the node named; the error keeps its designer code."""
    try:
        return validate_params(spec, node.params)
    except errors.ModuleError as exc:
        raise type(exc)(f"Node '{node.id}': {exc.message}", hint=exc.hint or None) from None


@dataclass
class Pipeline:
    nodes: list[Node]
    edges: list[Edge]
    name: str = "pipeline"
    base_dir: Path = Path(".")
    options: dict[str, Any] = field(default_factory=dict)  # run options: language, tracking, tensorboard
    path: Path | None = None  # the YAML file it was loaded from
    # Each node's checked parameters (node id -> values), kept by validate() so that a run checks
    # them once: they are what the cache key, the run hooks and the module get.
    checked_params: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Pipeline":
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise errors.FileParsingFailedError(f"Cannot read pipeline {path}: {exc}") from exc
        pipeline = cls.from_dict(data, base_dir=path.parent, default_name=path.stem)
        pipeline.path = path
        return pipeline

    @classmethod
    def from_dict(cls, data: Any, base_dir: str | Path = ".", default_name: str = "pipeline") -> "Pipeline":
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
            raise _fail("A pipeline needs a non-empty 'nodes' list.")
        nodes = []
        for i, raw in enumerate(data["nodes"]):
            if not isinstance(raw, dict) or "id" not in raw or "module" not in raw:
                raise _fail(f"Node #{i + 1} needs an 'id' and a 'module'.")
            params, inputs = raw.get("params") or {}, raw.get("inputs") or {}
            for key, value in (("params", params), ("inputs", inputs)):
                if not isinstance(value, dict):
                    raise _fail(f"Node '{raw['id']}': '{key}' must be a mapping of names to values, "
                                f"not {type(value).__name__}.")
            nodes.append(Node(str(raw["id"]), str(raw["module"]), {str(k): v for k, v in params.items()},
                              {str(k): str(v) for k, v in inputs.items()}))
        edges = []
        for raw in data.get("edges") or []:
            match = _EDGE.match(str(raw))
            if not match:
                raise _fail(f"Edge {raw!r} is not of the form 'node.port -> node.port'.")
            edges.append(Edge(*match.groups()))
        options = {key: data[key] for key in RUN_OPTIONS if data.get(key) is not None}
        return cls(nodes, edges, str(data.get("name") or default_name), Path(base_dir), options)

    def settings(self, language: str | None = None, tracking: str | bool | None = None,
                 tensorboard: str | Path | None = None) -> RunSettings:
        """The run settings: the arguments (the CLI's options) over the pipeline's own lines.
        Paths in the pipeline file are relative to it; ``tracking: true`` (or ``""``) is the default
        MLflow store, ``false`` no tracking."""
        from visionblocks.messages import LANGUAGES

        language = language or self.options.get("language") or "en"
        if language not in LANGUAGES:
            raise errors.NotInRangeValueError(f"Language '{language}' is not one of {', '.join(LANGUAGES)}.")
        if tracking is None:
            tracking = self.options.get("tracking")
            if isinstance(tracking, str) and "://" not in tracking:
                tracking = str(self.resolve(tracking))
        if tracking is True:
            tracking = ""
        if tensorboard is None and self.options.get("tensorboard"):
            tensorboard = self.resolve(str(self.options["tensorboard"]))
        return RunSettings(None if tracking is False else tracking, language,
                           Path(tensorboard) if tensorboard else None)

    # -- validation ----------------------------------------------------------------------
    def validate(self, registry: Registry | None = None) -> list[str]:
        """Check everything that can be checked without running; return the run order.

        The checks go from the most basic up — node ids, modules, edges, each node's inputs and
        parameters, cycles — so the first error names the problem to fix first."""
        from visionblocks.plugin_host import get_registry

        registry = registry or get_registry()
        nodes = self._nodes_by_id()
        specs = {node.id: _module_of(node, registry) for node in self.nodes}
        connected = self._check_edges(nodes, specs)
        checked = {}
        for node in self.nodes:
            self._check_external_inputs(node, specs[node.id])
            _check_required_inputs(node, specs[node.id], connected)
            checked[node.id] = _check_params(node, specs[node.id])
        order = self._run_order()
        self.checked_params = checked
        return order

    def _nodes_by_id(self) -> dict[str, Node]:
        nodes: dict[str, Node] = {}
        for node in self.nodes:
            if node.id in nodes:
                raise _fail(f"Node id '{node.id}' is used twice.")
            nodes[node.id] = node
        return nodes

    def _check_edges(self, nodes: dict[str, Node], specs: dict[str, ModuleSpec]) -> set[tuple[str, str]]:
        """Check every edge; return the (node, input port) pairs the edges feed."""
        connected: set[tuple[str, str]] = set()
        for edge in self.edges:
            _check_edge(edge, specs)
            fed = (edge.target, edge.target_port)
            if fed in connected or edge.target_port in nodes[edge.target].inputs:
                raise _fail(f"Node '{edge.target}' port '{edge.target_port}' is connected twice.")
            connected.add(fed)
        return connected

    def _check_external_inputs(self, node: Node, spec: ModuleSpec) -> None:
        """The paths a node reads from outside the pipeline name real ports and exist."""
        for port_name, value in node.inputs.items():
            _port(spec.inputs, port_name, f"Node '{node.id}': module '{spec.id}' has no input port")
            path = self.resolve(value)
            if not path.exists():
                raise errors.NullOrEmptyError(f"Node '{node.id}' port '{port_name}': {path} does not exist.")

    def _run_order(self) -> list[str]:
        """The node ids, each after every node it reads from; a cycle is refused."""
        graph: dict[str, set[str]] = {node.id: set() for node in self.nodes}
        for edge in self.edges:
            graph[edge.target].add(edge.source)
        try:
            return list(TopologicalSorter(graph).static_order())
        except CycleError as exc:
            cycle = " -> ".join(exc.args[1])  # graphlib documents args[1] as the list of nodes in the cycle
            raise _fail(f"The pipeline has a cycle: {cycle}.") from None

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    # -- running -------------------------------------------------------------------------
    def explain(self, out: str | Path, force: bool = False, settings: RunSettings | None = None) -> list["Decision"]:
        """What :meth:`run` would do with the run folder ``out``, without doing it: for each node, in
        run order, whether its cached output will be reused or it reruns, and why. Nothing runs and
        nothing is written; the external inputs are hashed, as a run does, to see whether they changed."""
        from visionblocks.plugin_host import get_registry

        registry = get_registry()
        order = self.validate(registry)
        settings = settings or self.settings()
        out = Path(out)
        by_id = {node.id: node for node in self.nodes}
        hashes: dict[tuple[str, str], str | None] = {}  # None: made by a node that reruns first
        rerun: set[str] = set()
        decisions: list[Decision] = []
        for node_id in order:
            spec = registry.get(by_id[node_id].module)
            decision, record = self._decide(by_id[node_id], spec, out, hashes, rerun, force, settings)
            if not decision.reuse:
                rerun.add(node_id)
            outputs = record.get("outputs", {}) if decision.reuse else {}
            for port in spec.outputs:
                hashes[(node_id, port.name)] = outputs.get(port.name)
            decisions.append(decision)
        return decisions

    def run(self, out: str | Path, force: bool = False, device: str | None = None, progress: Progress | None = None,
            settings: RunSettings | None = None) -> dict:
        """Run every node into ``out/<node id>/<port>/``; return the run log (also saved as JSON).
        Each node's entry says whether it ran or was reused, and why (as :meth:`explain` does).
        One run at a time per run folder: a second one started meanwhile is refused (0039).
        ``settings``: language, tracking, TensorBoard folder (default: :meth:`settings`)."""
        from visionblocks.plugin_host import get_registry

        registry = get_registry()
        order = self.validate(registry)  # a pipeline that cannot run creates no folder
        settings = settings or self.settings()
        out = ports.require_output_folder(Path(out))
        job = launch()
        if job.distributed and job.rank != 0:
            return self._follow(out, registry, order, device, settings, RankSync(out))
        with run_lock(out):
            return self._run(out, registry, order, force, device, progress, settings)

    def _follow(self, out: Path, registry: Registry, order: list[str], device: str | None, settings: RunSettings,
                sync: "RankSync") -> dict:
        """A torchrun process other than rank 0: take part in the distributed modules (training,
        scoring) when rank 0 says they run, skip everything else; rank 0 decides, writes and logs."""
        by_id = {node.id: node for node in self.nodes}
        run = RunInfo(self.name, out, settings, self.path, [])
        for node_id in order:
            node, spec = by_id[node_id], registry.get(by_id[node_id].module)
            if spec.distributed and sync.wait(node_id):
                run_spec(spec, self._node_inputs(node, out), self.checked_params[node_id], out / node.id,
                         device, Progress(quiet=True), run, node.id, validated=True)
        return {"pipeline": self.name, "nodes": [], "rank": launch().rank}

    def _run(self, out: Path, registry: Registry, order: list[str], force: bool, device: str | None,
             progress: Progress | None, settings: RunSettings) -> dict:
        by_id = {node.id: node for node in self.nodes}
        run = RunInfo(self.name, out, settings, self.path, [
            {"id": node_id, "module": by_id[node_id].module,
             "params": self.checked_params[node_id]}
            for node_id in order])
        emit("visionblocks_run_started", run=run)
        log: dict = {}
        sync = RankSync(out, leader=True) if launch().distributed else None
        try:
            log = self._run_nodes(run, order, by_id, registry, force, device, progress, sync)
        except BaseException as exc:
            if sync:
                sync.fail(exc)
            emit("visionblocks_run_finished", run=run, log=log, error=exc)
            raise
        emit("visionblocks_run_finished", run=run, log=log, error=None)
        return log

    def _run_nodes(self, run: RunInfo, order: list[str], by_id: dict[str, Node], registry: Registry, force: bool,
                   device: str | None, progress: Progress | None, sync: "RankSync | None" = None) -> dict:
        out = run.out
        hashes: dict[tuple[str, str], str | None] = {}  # (node, output port) -> content hash
        ran: set[str] = set()
        log = {"pipeline": self.name, "nodes": [], "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        say = progress or Progress("pipeline")
        total = time.perf_counter()
        for node_id in order:
            node, spec = by_id[node_id], registry.get(by_id[node_id].module)
            start = time.perf_counter()
            decision, record = self._decide(node, spec, out, hashes, ran, force, run.settings)
            if sync and spec.distributed:
                sync.announce(node_id, run=not decision.reuse)
            if decision.reuse:
                say.log(f"{node_id} ({spec.id}): reused cached output")
                emit("visionblocks_node_finished", run=run, status="reused", error=None,
                     node=node_info(node.id, spec, decision.params, out / node.id))
            else:
                say.log(f"{node_id} ({spec.id}): running ({decision.why})")
                record = self._run_node(node, spec, out, decision, device, say, run)
                ran.add(node_id)
            for port_name, digest in record["outputs"].items():
                hashes[(node_id, port_name)] = digest
            log["nodes"].append({"id": node_id, "module": spec.id, "status": "reused" if decision.reuse else "ran",
                                 "seconds": round(time.perf_counter() - start, 3),
                                 "reasons": [reason.as_dict() for reason in decision.reasons],
                                 "outputs": {p.name: str(out / node_id / p.name) for p in spec.outputs}})
        log["seconds"] = round(time.perf_counter() - total, 3)
        (out / RUN_LOG).write_text(json.dumps(log, indent=2, ensure_ascii=False), encoding="utf-8")
        return log

    def _run_node(self, node: Node, spec: ModuleSpec, out: Path, decision: "Decision", device: str | None,
                  say: Progress, run: RunInfo) -> dict:
        """Run one node into ``out/<node id>/`` and write its record: the cache key and what it was
        computed from (parameters, input hashes), so a later run can say what changed."""
        node_dir = out / node.id
        record_path = node_dir / NODE_RECORD
        record_path.unlink(missing_ok=True)
        inputs = self._node_inputs(node, out)
        try:
            result = run_spec(spec, inputs, decision.params, node_dir, device, say.child(node.id), run, node.id,
                              validated=True)
        except errors.ModuleError as exc:
            exc.message = f"Node '{node.id}' ({spec.id}): {exc.message}"
            raise
        record = {"key": decision.key, "module": spec.id, "version": spec.version, "params": _jsonable(decision.params),
                  "inputs": decision.input_hashes, "settings": result.settings_read,
                  "outputs": {p.name: ports.directory_hash(node_dir / p.name) for p in spec.outputs}}
        record_path.write_text(json.dumps(record, indent=2, default=str))
        return record

    def _node_inputs(self, node: Node, out: Path) -> dict[str, Path]:
        """The folders ``node`` reads: its external inputs and the published outputs of its sources."""
        return {port: self.resolve(source.label) if source.node is None else out / source.node / source.port
                for port, source in self._sources(node).items()}

    def _decide(self, node: Node, spec: ModuleSpec, out: Path, hashes: dict[tuple[str, str], str | None],
                rerun: set[str], force: bool, settings: RunSettings | None = None) -> tuple["Decision", dict]:
        """Whether ``node`` reuses its cached output in ``out``, and why; with the node's last record.
        ``hashes`` holds the output hashes of the nodes before it (None: not known yet, because that
        node reruns first) and, under ``(None, path)``, the external inputs hashed so far; ``rerun``,
        the nodes before it that rerun."""
        sources = self._sources(node)
        for source in sources.values():
            if source.node is None and (None, source.label) not in hashes:  # an external input: hashed once a run
                hashes[(None, source.label)] = ports.directory_hash(self.resolve(source.label))
        input_hashes = {port: hashes[(source.node, source.label if source.node is None else source.port)]
                        for port, source in sources.items()}
        params = self.checked_params[node.id]
        record = _read_record(out / node.id)
        known = None not in input_hashes.values()
        key = _cache_key(spec.id, spec.version, params, input_hashes) if known else None
        missing = [p.name for p in spec.outputs if not (out / node.id / p.name / ports.META_FILE).is_file()]
        changed = _settings_changed(record, settings or RunSettings())
        reuse = not force and known and record.get("key") == key and not missing and not changed
        if force:
            reasons = [Reason(FORCED, "--force (force=True) reruns every node")]
        elif not record:
            reasons = [Reason(NO_CACHE, "no cached output: the node has not run in this folder yet")]
        elif reuse:
            reasons = _why_reused(sources, rerun)
        else:
            same = record.get("key") == key and not missing
            reasons = changed + ([] if same else _why_rerun(spec, params, input_hashes, sources, record, missing))
        decision = Decision(node.id, spec.id, reuse, reasons, params, input_hashes, key)
        return decision, record

    def _sources(self, node: Node) -> dict[str, "Source"]:
        """Where each input port of ``node`` reads from: an upstream node's output, or an external path."""
        sources = {port: Source(value) for port, value in node.inputs.items()}
        for edge in self.edges:
            if edge.target == node.id:
                sources[edge.target_port] = Source(f"{edge.source}.{edge.source_port}", edge.source, edge.source_port)
        return sources


def _settings_changed(record: dict, settings: RunSettings) -> list["Reason"]:
    """The run settings the node's module read last time (its record's ``settings``) that differ now."""
    reasons = []
    for name, old in (record.get("settings") or {}).items():
        new = getattr(settings, name, None)
        if old != new:
            reasons.append(Reason(SETTING_CHANGED, f"run setting '{name}' changed: {_show(old)} → {_show(new)}",
                                  {"setting": name, "old": old, "new": new}))
    return reasons


def _cache_key(module_id: str, version: str, params: dict, input_hashes: dict) -> str:
    blob = json.dumps({"module": module_id, "version": version, "params": params, "inputs": input_hashes},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_pipeline(path: str | Path) -> Pipeline:
    return Pipeline.load(path)


def run_pipeline(path: str | Path, out: str | Path, force: bool = False, device: str | None = None,
                 language: str | None = None, tracking: str | bool | None = None) -> dict:
    pipeline = Pipeline.load(path)
    return pipeline.run(out, force=force, device=device, settings=pipeline.settings(language, tracking))


# Top-level lines of a pipeline file that set run options rather than nodes.
RUN_OPTIONS = ("language", "tracking", "tensorboard")


# -- why a node reruns ---------------------------------------------------------------------------
# Reason kinds, as the run log and Decision.reasons name them.
UNCHANGED = "unchanged"                # reused: module version, parameters and input contents as last time
IDENTICAL_INPUT = "identical_input"    # reused although an upstream node reran: it made the same bytes
FORCED = "forced"
NO_CACHE = "no_cache"                  # first run in this folder (no _node.json)
OUTPUT_MISSING = "output_missing"
MODULE_CHANGED = "module_changed"      # another module, or another version of it
PARAM_CHANGED = "param_changed"
INPUT_CHANGED = "input_changed"
UPSTREAM_RERUNS = "upstream_reruns"    # explain only: the input is made by a node that reruns first
KEY_CHANGED = "key_changed"            # a record written before input hashes were kept
SETTING_CHANGED = "setting_changed"    # a run setting the module read (language) is not what it was
_UNSET = "(not set)"


@dataclass(frozen=True)
class Source:
    label: str               # "node.port", or the external path as the pipeline writes it
    node: str | None = None  # the upstream node; None for an external input
    port: str | None = None


@dataclass(frozen=True)
class Reason:
    kind: str
    text: str
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, **self.detail}


@dataclass
class Decision:
    """What happens to one node: reused or rerun, and the reasons, plus what its cache key is
    computed from (``key`` is None in :meth:`Pipeline.explain` while an input is not known yet)."""

    node: str
    module: str
    reuse: bool
    reasons: list[Reason]
    params: dict = field(repr=False, default_factory=dict)
    input_hashes: dict = field(repr=False, default_factory=dict)
    key: str | None = field(repr=False, default=None)

    @property
    def status(self) -> str:
        return "reuse" if self.reuse else "rerun"

    @property
    def why(self) -> str:
        return "; ".join(reason.text for reason in self.reasons)

    def as_dict(self) -> dict:
        return {"id": self.node, "module": self.module, "status": self.status,
                "reasons": [reason.as_dict() for reason in self.reasons]}

    def __str__(self) -> str:
        return f"{self.node}: {self.status} ({self.why})"


def _why_reused(sources: dict[str, Source], rerun: set[str]) -> list[Reason]:
    """Nothing changed; an upstream node that reran shows here: it made byte-identical outputs."""
    reasons = [Reason(UNCHANGED, "module version, parameters and input contents unchanged")]
    for port, source in sources.items():
        if source.node in rerun:
            reasons.append(Reason(IDENTICAL_INPUT, f"input '{port}' comes from '{source.node}', which reran "
                                                   "and made byte-identical output",
                                  {"port": port, "source": source.label}))
    return reasons


def _why_rerun(spec: ModuleSpec, params: dict, input_hashes: dict, sources: dict[str, Source], record: dict,
               missing: list[str]) -> list[Reason]:
    """What differs from the run ``record`` describes, and which cached outputs are gone."""
    reasons = (_changes(spec, _jsonable(params), input_hashes, sources, record)
               + [Reason(OUTPUT_MISSING, f"cached output '{port}' is missing", {"port": port}) for port in missing])
    return reasons or [Reason(KEY_CHANGED, "the cache key changed (the last run's record does not say which "
                                           "part: it predates input hashes)")]


def _changes(spec: ModuleSpec, params: dict, input_hashes: dict, sources: dict[str, Source],
             record: dict) -> list[Reason]:
    """Every difference between this run and the one ``record`` describes (``params`` as JSON
    values, as records keep them)."""
    reasons = []
    if (record.get("module"), record.get("version")) != (spec.id, spec.version):
        old = f"{record.get('module')} {record.get('version')}"
        reasons.append(Reason(MODULE_CHANGED, f"module changed: {old} → {spec.id} {spec.version}",
                              {"old": old, "new": f"{spec.id} {spec.version}"}))
    old_params = record.get("params") or {}
    for name in [*params, *(n for n in old_params if n not in params)]:
        old, new = old_params.get(name, _UNSET), params.get(name, _UNSET)
        if old != new:
            reasons.append(Reason(PARAM_CHANGED, f"parameter '{name}' changed: {_show(old)} → {_show(new)}",
                                  {"param": name, "old": old, "new": new}))
    for port, source in sources.items():
        if input_hashes[port] is None:
            reasons.append(Reason(UPSTREAM_RERUNS, f"input '{port}' comes from '{source.node}', which reruns",
                                  {"port": port, "source": source.label}))
    old_inputs = record.get("inputs")
    if old_inputs is None:  # a record from before input hashes were kept
        return reasons
    for port in [*sources, *(p for p in old_inputs if p not in sources)]:
        old, new = old_inputs.get(port), input_hashes.get(port)
        if port not in sources:
            reasons.append(Reason(INPUT_CHANGED, f"input '{port}' is no longer connected",
                                  {"port": port, "source": None, "old": old, "new": None}))
        elif new is not None and old != new:
            label = sources[port].label
            reasons.append(Reason(INPUT_CHANGED, f"input '{port}' changed (from {label}): content "
                                                 f"{_short(old)} → {_short(new)}",
                                  {"port": port, "source": label, "old": old, "new": new}))
    return reasons


class RankSync:
    """How the processes of a torchrun job agree on a pipeline run, through small files in the run
    folder (``.torchrun/<job id>/``), so the pipeline needs no process group of its own.

    Rank 0 decides every node as a plain run does and, before each distributed node, writes
    whether it runs; the other ranks wait for that word, then join the module (whose own process
    group synchronizes them) or skip it. The word comes only after the node's inputs are published.
    If rank 0 fails, it says so, and the others stop instead of waiting. torchrun names each job
    (``TORCHELASTIC_RUN_ID``), so a word from an earlier job is never read as this one's.
    """

    FAILED = "failed.json"

    def __init__(self, out: Path, leader: bool = False):
        job = os.environ.get("TORCHELASTIC_RUN_ID") or "{}-{}".format(os.environ.get("MASTER_ADDR", ""),
                                                                        os.environ.get("MASTER_PORT", ""))
        root = out / TORCHRUN_DIR
        self.folder = root / re.sub(r"[^A-Za-z0-9_.-]", "_", job)
        self.timeout = float(os.environ.get("VISIONBLOCKS_RANK_WAIT_S", str(RANK_WAIT_S)))
        if leader:  # words of earlier jobs: the run lock guarantees no other job is using them
            for old in root.glob("*") if root.is_dir() else ():
                if old != self.folder:
                    shutil.rmtree(old, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)

    def announce(self, node_id: str, run: bool) -> None:
        self._write(f"{node_id}.json", {"run": run})

    def fail(self, exc: BaseException) -> None:
        self._write(self.FAILED, {"error": f"{type(exc).__name__}: {exc}"})

    def wait(self, node_id: str) -> bool:
        """Whether ``node_id`` runs (True) or is reused (False), once rank 0 has said so."""
        deadline = time.monotonic() + self.timeout
        while True:
            failed = self.folder / self.FAILED
            if failed.is_file():
                raise errors.FailedToCompleteOperationError(
                    f"Rank 0 stopped the pipeline: {json.loads(failed.read_text())['error']}")
            word = self.folder / f"{node_id}.json"
            if word.is_file():
                return bool(json.loads(word.read_text())["run"])
            if time.monotonic() > deadline:
                raise errors.FailedToCompleteOperationError(
                    f"Waited {self.timeout:.0f} s for rank 0 to reach node '{node_id}'.",
                    hint="Raise VISIONBLOCKS_RANK_WAIT_S when the nodes before it take longer.")
            time.sleep(RANK_POLL_S)

    def _write(self, name: str, data: dict) -> None:
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.folder / name)  # a reader never sees half a word


@contextlib.contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` for a run, or refuse (0039) when another run holds it: two runs writing
    one folder would interleave node outputs and records. The operating system drops the lock
    when its holder dies, so a killed run never blocks the next one."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, runs are not guarded
        yield
        return
    with open(out / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise errors.FailedToCompleteOperationError(
                f"Another pipeline run ({holder}) is using the run folder {out}.",
                hint="Wait for it to finish, or give this run another --out folder.") from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


def _show(value: Any) -> str:
    return value if value == _UNSET else json.dumps(value, ensure_ascii=False)


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "none"


def _jsonable(params: dict) -> dict:
    """Parameters as a record keeps them, so values compare equal across runs."""
    return json.loads(json.dumps(params, default=str))


def _read_record(node_dir: Path) -> dict:
    """The node's last record; {} when there is none or it cannot be read (the node then reruns)."""
    try:
        record = json.loads((node_dir / NODE_RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) and "outputs" in record else {}

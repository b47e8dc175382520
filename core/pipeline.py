"""Pipelines: a YAML file of nodes (module + parameters) and edges (``a.out -> b.in``).

The whole file is checked before anything runs — unknown modules or ports, type mismatches,
missing required inputs, cycles and bad parameters are each refused with an error naming the
node and port. Nodes then run in topological order. A node whose module version, parameters
and input contents are unchanged reuses its cached output, as the designer does.

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
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import yaml

from visionblocks import errors, ports
from visionblocks.params import validate_params
from visionblocks.progress import Progress
from visionblocks.registry import Registry, UnknownModuleError
from visionblocks.runner import run_spec
from visionblocks.spec import ModuleSpec, Port

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


def _check_params(node: Node, spec: ModuleSpec) -> None:
    """The module's own parameter check, with the node named; the error keeps its designer code."""
    try:
        validate_params(spec, node.params)
    except errors.ModuleError as exc:
        raise type(exc)(f"Node '{node.id}': {exc.message}", hint=exc.hint or None) from None


@dataclass
class Pipeline:
    nodes: list[Node]
    edges: list[Edge]
    name: str = "pipeline"
    base_dir: Path = Path(".")

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Pipeline":
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise errors.FileParsingFailedError(f"Cannot read pipeline {path}: {exc}") from exc
        return cls.from_dict(data, base_dir=path.parent, default_name=path.stem)

    @classmethod
    def from_dict(cls, data: Any, base_dir: str | Path = ".", default_name: str = "pipeline") -> "Pipeline":
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
            raise _fail("A pipeline needs a non-empty 'nodes' list.")
        nodes = []
        for i, raw in enumerate(data["nodes"]):
            if not isinstance(raw, dict) or "id" not in raw or "module" not in raw:
                raise _fail(f"Node #{i + 1} needs an 'id' and a 'module'.")
            nodes.append(Node(str(raw["id"]), str(raw["module"]), dict(raw.get("params") or {}),
                              {k: str(v) for k, v in (raw.get("inputs") or {}).items()}))
        edges = []
        for raw in data.get("edges") or []:
            match = _EDGE.match(str(raw))
            if not match:
                raise _fail(f"Edge {raw!r} is not of the form 'node.port -> node.port'.")
            edges.append(Edge(*match.groups()))
        return cls(nodes, edges, str(data.get("name") or default_name), Path(base_dir))

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
        for node in self.nodes:
            self._check_external_inputs(node, specs[node.id])
            _check_required_inputs(node, specs[node.id], connected)
            _check_params(node, specs[node.id])
        return self._run_order()

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
    def run(self, out: str | Path, force: bool = False, device: str | None = None, progress: Progress | None = None) -> dict:
        """Run every node into ``out/<node id>/<port>/``; return the run log (also saved as JSON)."""
        from visionblocks.plugin_host import get_registry

        registry = get_registry()
        order = self.validate(registry)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        by_id = {node.id: node for node in self.nodes}
        hashes: dict[tuple[str, str], str] = {}  # (node, output port) -> content hash
        log = {"pipeline": self.name, "nodes": [], "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        say = progress or Progress("pipeline")
        total = time.perf_counter()
        for node_id in order:
            node, spec = by_id[node_id], registry.get(by_id[node_id].module)
            inputs: dict[str, Path] = {}
            input_hashes: dict[str, str] = {}
            for port_name, value in node.inputs.items():
                inputs[port_name] = self.resolve(value)
                input_hashes[port_name] = ports.directory_hash(inputs[port_name])
            for edge in self.edges:
                if edge.target == node_id:
                    inputs[edge.target_port] = out / edge.source / edge.source_port
                    input_hashes[edge.target_port] = hashes[(edge.source, edge.source_port)]
            params = validate_params(spec, node.params)
            key = _cache_key(spec.id, spec.version, params, input_hashes)
            node_dir = out / node_id
            record_path = node_dir / NODE_RECORD
            record = json.loads(record_path.read_text()) if record_path.is_file() else {}
            reusable = (not force and record.get("key") == key
                        and all((node_dir / p.name / ports.META_FILE).is_file() for p in spec.outputs))
            start = time.perf_counter()
            if reusable:
                status = "reused"
                say.log(f"{node_id} ({spec.id}): reused cached output")
            else:
                status = "ran"
                say.log(f"{node_id} ({spec.id}): running")
                record_path.unlink(missing_ok=True)
                try:
                    run_spec(spec, inputs, params, node_dir, device, say.child(node_id))
                except errors.ModuleError as exc:
                    exc.message = f"Node '{node_id}' ({spec.id}): {exc.message}"
                    raise
                record = {"key": key, "module": spec.id, "version": spec.version, "params": params,
                          "outputs": {p.name: ports.directory_hash(node_dir / p.name) for p in spec.outputs}}
                record_path.write_text(json.dumps(record, indent=2, default=str))
            for port_name, digest in record["outputs"].items():
                hashes[(node_id, port_name)] = digest
            log["nodes"].append({"id": node_id, "module": spec.id, "status": status,
                                 "seconds": round(time.perf_counter() - start, 3),
                                 "outputs": {p.name: str(node_dir / p.name) for p in spec.outputs}})
        log["seconds"] = round(time.perf_counter() - total, 3)
        (out / RUN_LOG).write_text(json.dumps(log, indent=2))
        return log


def _cache_key(module_id: str, version: str, params: dict, input_hashes: dict) -> str:
    blob = json.dumps({"module": module_id, "version": version, "params": params, "inputs": input_hashes},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_pipeline(path: str | Path) -> Pipeline:
    return Pipeline.load(path)


def run_pipeline(path: str | Path, out: str | Path, force: bool = False, device: str | None = None) -> dict:
    return Pipeline.load(path).run(out, force=force, device=device)

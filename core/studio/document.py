"""The file the studio opens and saves: the pipeline YAML that ``visionblocks run`` takes, and the
canvas layout beside it.

The layout (where each node sits on the canvas) is kept in a side file, ``<stem>.layout.json``
next to the pipeline, so the pipeline file holds only what ``run`` reads: opening a file and
saving it unchanged writes it back byte for byte (comments included), and a run never sees the
canvas. A changed pipeline is written in the shape of ``examples/digits-pipeline.yaml``: a node per
list item, its ``params`` and ``inputs`` on one line, one edge per line, top-level keys the studio
does not know kept, the comment block at the top of the file kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from visionblocks import errors
from visionblocks.pipeline import RUN_OPTIONS, Pipeline

LAYOUT_SUFFIX = ".layout.json"
_KNOWN = ("name", "nodes", "edges", *RUN_OPTIONS)


def layout_path(pipeline: Path) -> Path:
    return pipeline.with_name(pipeline.stem + LAYOUT_SUFFIX)


def from_data(data: Any, path: Path | None = None) -> dict:
    """The studio's document of a parsed pipeline file, checked by the pipeline loader (a file
    ``run`` would refuse for its shape is refused here too, with the same 0039 message)."""
    Pipeline.from_dict(data, base_dir=path.parent if path else ".")
    nodes = [{"id": str(node["id"]), "module": str(node["module"]), "params": dict(node.get("params") or {}),
              "inputs": {str(k): str(v) for k, v in (node.get("inputs") or {}).items()}} for node in data["nodes"]]
    edges = []
    for raw in data.get("edges") or []:
        source, target = (side.strip() for side in str(raw).split("->"))
        edges.append({"source": source.split(".")[0], "source_port": source.split(".")[1],
                      "target": target.split(".")[0], "target_port": target.split(".")[1]})
    return {"name": str(data.get("name") or (path.stem if path else "pipeline")), "nodes": nodes, "edges": edges,
            "options": {key: data[key] for key in RUN_OPTIONS if data.get(key) is not None},
            "extra": {key: value for key, value in data.items() if key not in _KNOWN}}


def to_data(document: dict) -> dict:
    """The pipeline file's content (a plain dict, key order as the file shows it)."""
    data: dict[str, Any] = {"name": document["name"], **document.get("extra", {}), "nodes": []}
    for node in document["nodes"]:
        item: dict[str, Any] = {"id": node["id"], "module": node["module"]}
        if node.get("inputs"):
            item["inputs"] = _Flow(node["inputs"])
        if node.get("params"):
            item["params"] = _Flow(node["params"])
        data["nodes"].append(item)
    data["edges"] = [f"{e['source']}.{e['source_port']} -> {e['target']}.{e['target_port']}"
                     for e in document["edges"]]
    data.update(document.get("options") or {})
    return data


def plain(data: Any) -> Any:
    """``data`` as YAML would read it back (so a document compares equal to a file's content)."""
    return json.loads(json.dumps(data, default=str))


def load(path: Path) -> dict:
    """The document of the pipeline file ``path`` and its layout (empty without a side file)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise errors.FileParsingFailedError(f"Cannot read pipeline {path}: {exc}") from None
    document = from_data(data, path)
    document["layout"] = read_layout(path)
    document["path"] = str(path)
    return document


def read_layout(path: Path) -> dict:
    try:
        layout = json.loads(layout_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return layout if isinstance(layout, dict) else {}


def render(document: dict, original: str | None = None) -> str:
    """The YAML text of ``document``: ``original`` itself when it says the same thing."""
    data = to_data(document)
    if original is not None:
        try:
            same = plain(to_data(from_data(yaml.safe_load(original)))) == plain(data)
        except (yaml.YAMLError, errors.ModuleError):
            same = False
        if same:
            return original
    header = "".join(line + "\n" for line in _leading_comments(original or ""))
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def check_graph(document: dict) -> None:
    """What no canvas makes and no later edit can mend: a node id used twice, an edge to a node
    that is not there (0039, as ``run`` says it). A draft — an input not connected yet, a value out
    of range — is saved: the run refuses it until it is finished."""
    Pipeline.from_dict(plain(to_data(document)))
    ids = [node["id"] for node in document["nodes"]]
    for node_id in ids:
        if ids.count(node_id) > 1:
            raise errors.PipelineError(f"Node id '{node_id}' is used twice.")
    for edge in document["edges"]:
        for end in (edge["source"], edge["target"]):
            if end not in ids:
                raise errors.PipelineError(f"An edge names unknown node '{end}'.")


def save(path: Path, document: dict) -> str:
    """Write the pipeline file and its layout side file, each atomically (a crash mid-save leaves
    the previous file, never half of one); return the pipeline file's text."""
    check_graph(document)
    try:
        original = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        original = None
    text = render(document, original)
    _write(path, text)
    _write(layout_path(path), json.dumps(document.get("layout") or {}, indent=1, sort_keys=True) + "\n")
    return text


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _leading_comments(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return lines


class _Flow(dict):
    """A mapping written on one line (``params: {fraction: 0.8, random_seed: 0}``)."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):  # list items indented under their key
        return super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda dumper, data: dumper.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))

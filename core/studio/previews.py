"""What an output port holds, as the page shows it (the designer's right-click on an output).

An ImageDirectory: its class counts, a grid of images (a few of each class) and the quarantine
list of Convert to Image Directory (files it skipped, and why). A DataFrameDirectory: the first
rows with the column types, and the charts and report page beside the table (Evaluate Model's).
A trained model: its per-epoch metrics (the training curve is drawn from them) and the curve's
PNG. The other types: their configuration. Files are served by the studio from the run folder
only (:func:`file_in`), so a preview never becomes a way to read other files.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from visionblocks import errors, ports

IMAGES_SHOWN = 48   # a grid that fits a panel and loads at once; every class gets its share of it
ROWS_SHOWN = 20
QUARANTINE_FILE = "_quarantine.json"    # Convert to Image Directory's list (data.convert.QUARANTINE)
METRICS_FILE = "metrics.csv"            # Train PyTorch Model's per-epoch metrics (learn.train)
_NAME = re.compile(r"^[\w-]+$")          # node ids and port names, as pipelines allow them


def port_folder(out: Path, node: str, port: str) -> Path:
    """``out/<node>/<port>``; 0008 for a name that is not a node id or port name (``..``)."""
    for name in (node, port):
        if not _NAME.match(name):
            raise errors.NotInRangeValueError(f"{name!r} is not a node id or port name.")
    return out / node / port


def file_in(out: Path, node: str, port: str, name: str) -> Path:
    """The file ``name`` of output ``node.port``; 0003 when it is not there or outside the port."""
    folder = port_folder(out, node, port).resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise errors.NullOrEmptyError(f"Output {node}.{port} has no file {name!r}.")
    return path


def preview(out: Path, node: str, port: str) -> dict:
    folder = port_folder(out, node, port)
    kind = ports.port_type_of(folder) if folder.is_dir() else None
    if kind is None:
        raise errors.NullOrEmptyError(f"Output {node}.{port} has not been made yet: run the pipeline first.")
    url = f"api/file/{quote(node)}/{quote(port)}/"
    answer = {"type": kind, "node": node, "port": port,
              "charts": [url + quote(p.name) for p in sorted(folder.glob("*.png"))],
              "report": url + "report.html" if (folder / "report.html").is_file() else None}
    if kind == ports.IMAGE_DIRECTORY:
        answer.update(_images(folder, url))
    elif kind == ports.DATAFRAME_DIRECTORY:
        answer.update(_table(folder))
    elif kind == ports.MODEL_DIRECTORY:
        answer.update(_model(folder))
    else:
        answer["config"] = {p.name: _json(p) for p in sorted(folder.glob("*.json"))}
    return answer


def _images(folder: Path, url: str) -> dict:
    from visionblocks.imagedir import ImageDirectory

    directory = ImageDirectory.load(folder)
    counts = Counter(entry.category for entry in directory.entries)
    per_class = max(1, IMAGES_SHOWN // max(1, len(counts)))
    shown, taken = [], Counter()
    for entry in directory.entries:
        if len(shown) < IMAGES_SHOWN and taken[entry.category] < per_class:
            taken[entry.category] += 1
            shown.append({"id": entry.id, "category": entry.category, "url": url + quote(entry.file_name),
                          "width": entry.width, "height": entry.height})
    classes = directory.classes or []
    quarantine = _json(folder / QUARANTINE_FILE) or {}
    return {"count": len(directory), "labeled": directory.labeled,
            "classes": [{"name": name, "count": counts.get(name, 0)} for name in classes],
            "images": shown, "transform": directory.transform, "transform_mode": directory.transform_mode,
            "quarantine": {"count": int(quarantine.get("skipped_count", 0)),
                           "skipped": quarantine.get("skipped", [])[:100]}}


def _table(folder: Path) -> dict:
    from visionblocks.dataframe import read_dataframe

    frame = read_dataframe(folder)
    head = frame.head(ROWS_SHOWN)
    rows = json.loads(head.to_json(orient="values", default_handler=str))
    return {"rows_total": len(frame), "columns": [{"name": str(c), "dtype": str(t)} for c, t in frame.dtypes.items()],
            "rows": rows}


def _model(folder: Path) -> dict:
    history = []
    try:
        with open(folder / METRICS_FILE, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                history.append({key: _number(value) for key, value in row.items()})
    except OSError:
        pass
    return {"history": history, "config": {"_config.json": _json(folder / "_config.json"),
                                           "_id_to_class.json": _json(folder / "_id_to_class.json")}}


def _number(text: str):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None if text in ("", None) else text


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None

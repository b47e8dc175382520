"""``visionblocks report PATH``: print the metrics of Evaluate Model outputs and where the report is.

PATH is a pipeline run folder (every Evaluate Model node in its ``run_log.json`` is shown) or an
Evaluation results folder itself. Reading the outputs instead of the run's log lines means the
command also works when the pipeline reused cached outputs and printed nothing.

``--lang es|pt|ru|fr`` points at the report in that language, writing ``report.<lang>.html`` (and
its charts) beside the folder's own report when the run wrote it in another language.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from visionblocks import errors, ports
from visionblocks.messages import LANGUAGES
from visionblocks.pipeline import RUN_LOG

EVALUATE_MODULE = "evaluate-model"


def add_commands(sub) -> None:
    p = sub.add_parser("report", help="print the metrics of Evaluate Model outputs and where their report is")
    p.add_argument("path", type=Path, help="a pipeline run folder or an Evaluation results folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--lang", choices=LANGUAGES, default=None,
                   help="the report in this language (written beside the run's own when it is in another)")
    p.set_defaults(func=cmd_report)


def evaluation_folders(path: Path) -> list[Path]:
    """The Evaluation results folders under ``path`` (itself, or those its run log names)."""
    path = Path(path)
    if "report" in ports.read_meta(path):
        return [path]
    log_file = path / RUN_LOG
    if log_file.is_file():
        log = json.loads(log_file.read_text(encoding="utf-8"))
        found = [Path(node["outputs"]["evaluation_results"]) for node in log.get("nodes", [])
                 if node.get("module") == EVALUATE_MODULE]
        return [folder for folder in found if folder.is_dir()]
    return sorted(folder for folder in path.glob("*/evaluation_results") if "report" in ports.read_meta(folder))


def summaries(path: Path, lang: str | None = None) -> list[dict]:
    """What ``visionblocks report`` shows of each Evaluation results folder under ``path``; with
    ``lang``, the report path is that of the report in ``lang`` (written when needed)."""
    from visionblocks.dataframe import read_dataframe
    from visionblocks.evaluation.results import report_in

    folders = evaluation_folders(path)
    if not folders:
        raise errors.NullOrEmptyError(f"No Evaluate Model output found in {path}.",
                                      hint="Give a pipeline run folder or an Evaluation results folder.")
    results = []
    for folder in folders:
        meta = ports.read_meta(folder)
        table = read_dataframe(folder, "Evaluation results")
        names = meta.get("metrics") or [c for c in table.columns if c not in ("Scored_Dataset", "Task", "Images")]
        report = report_in(folder, lang) if lang else folder / meta["report"]
        for row in table.to_dict("records"):
            results.append({
                "evaluation_results": str(folder),
                "scored_dataset": row.get("Scored_Dataset"),
                "task": row.get("Task"),
                "images": row.get("Images"),
                "positive_label": row.get("Positive_Label"),
                "metrics": {name: row[name] for name in names if name in row},
                "report": str(report.resolve()),
            })
    return results


def cmd_report(args) -> None:
    from visionblocks.cli import print_json

    results = summaries(args.path, args.lang)
    if args.json:
        print_json(results)
        return
    for result in results:
        extra = f", positive label {result['positive_label']}" if result.get("positive_label") is not None else ""
        print(f"{result['scored_dataset']} ({result['task']}, {result['images']} images{extra}):")
        width = max(len(name) for name in result["metrics"])
        for name, value in result["metrics"].items():
            shown = "not defined" if isinstance(value, float) and math.isnan(value) else f"{value:.4f}"
            print(f"  {name:<{width}}  {shown}")
        print(f"Report: {result['report']}")

"""Core sub-commands: modules, plugins, run, module run, sample."""

from __future__ import annotations

from pathlib import Path

from visionblocks.cli import _key_value, print_json
from visionblocks.device import CHOICES as DEVICE_CHOICES
from visionblocks.messages import LANGUAGES


def add_commands(sub) -> None:
    p = sub.add_parser("modules", help="list installed modules")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_modules)

    p = sub.add_parser("plugins", help="list loaded plugins with their hooks, modules, architectures, transform "
                                       "operations and commands")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("run", help="run a pipeline YAML file")
    p.add_argument("pipeline", type=Path)
    p.add_argument("--out", type=Path, default=None, help="run folder (default: runs/<pipeline name>)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default=None)
    p.add_argument("--force", action="store_true", help="rerun every node, ignoring cached outputs")
    p.add_argument("--lang", choices=LANGUAGES, default=None,
                   help="language of what modules write for people, e.g. Evaluate Model's report (default: the "
                        "pipeline's language line, else en)")
    p.add_argument("--tracking", nargs="?", const="", default=None, metavar="URI_OR_PATH",
                   help="record the run in MLflow: a tracking URI, an SQLite file or folder; alone: mlflow.db "
                        "beside the run folder (default: the pipeline's tracking line, else MLFLOW_TRACKING_URI)")
    p.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                   help="write TensorBoard event files under DIR/<run folder name>/ (default: each node's folder)")
    p.add_argument("--explain", "--dry-run", dest="explain", action="store_true",
                   help="run nothing: say which nodes would be reused or rerun, and why")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("module", help="run one module on its own")
    msub = p.add_subparsers(dest="module_command", required=True, metavar="ACTION")
    r = msub.add_parser("run", help="run MODULE with inputs and parameters")
    r.add_argument("module")
    r.add_argument("--input", action="append", type=_key_value, default=[], metavar="PORT=PATH")
    r.add_argument("--param", action="append", type=_key_value, default=[], metavar="NAME=VALUE")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--device", choices=DEVICE_CHOICES, default=None)
    r.set_defaults(func=cmd_module_run)

    p = sub.add_parser("sample", help="write bundled sample data")
    p.add_argument("name", choices=("digits",))
    p.add_argument("out", type=Path)
    p.add_argument("--size", type=int, default=32, help="image edge in pixels (default 32)")
    p.add_argument("--per-class", type=int, default=None, help="keep only N images per class")
    p.add_argument("--unlabeled", action="store_true", help="one flat folder, no class sub-folders")
    p.set_defaults(func=cmd_sample)


def cmd_modules(args) -> None:
    from visionblocks.plugin_host import get_registry

    specs = list(get_registry())
    if args.json:
        print_json([{"id": s.id, "name": s.name, "category": s.category, "plugin": s.plugin,
                     "version": s.version, "summary": s.summary} for s in specs])
        return
    width = max((len(s.id) for s in specs), default=10)
    for s in specs:
        print(f"{s.id:<{width}}  {s.name}  [{s.category}]  ({s.plugin})")


def cmd_plugins(args) -> None:
    from visionblocks.plugin_host import list_plugins

    plugins = list_plugins()
    if args.json:
        print_json(plugins)
        return
    for p in plugins:
        version = f" {p['version']}" if p["version"] else ""
        print(f"{p['name']}{version}: hooks={','.join(p['hooks'])} modules={','.join(p['modules']) or '-'}")
        # What the plugin adds besides modules, one indented line per kind it adds anything of.
        for kind in ("architectures", "transforms", "commands"):
            if p[kind]:
                print(f"  {kind}={','.join(p[kind])}")


def cmd_run(args) -> None:
    from visionblocks.pipeline import RUN_LOG, Pipeline

    pipeline = Pipeline.load(args.pipeline)
    out = args.out or Path("runs") / pipeline.name
    settings = pipeline.settings(args.lang, args.tracking, args.tensorboard)
    if args.explain:
        explain_run(pipeline, out, args.force, settings)
        return
    log = pipeline.run(out, force=args.force, device=args.device, settings=settings)
    if log.get("rank", 0) != 0:  # under torchrun, rank 0 reports for the job
        return
    for node in log["nodes"]:
        why = "; ".join(reason["text"] for reason in node["reasons"])
        print(f"{node['id']:<20} {node['status']:<7} {node['seconds']:>8.2f}s  {node['module']}  ({why})")
    print(f"Run folder: {out}  (log: {out / RUN_LOG})")


def explain_run(pipeline, out: Path, force: bool, settings=None) -> None:
    """Print what ``run`` would do in ``out``: one line per node, reuse or rerun and why."""
    decisions = pipeline.explain(out, force=force, settings=settings)
    for decision in decisions:
        print(f"{decision.node:<20} {decision.status:<6} {decision.why}")
    reruns = sum(not decision.reuse for decision in decisions)
    print(f"Nothing was run: {reruns} of {len(decisions)} nodes would rerun in {out}.")


def cmd_module_run(args) -> None:
    from visionblocks.runner import run_module

    result = run_module(args.module, inputs=dict(args.input), params=dict(args.param), out=args.out,
                        device=args.device)
    for port, path in result.outputs.items():
        print(f"{port}: {path}")


def cmd_sample(args) -> None:
    from visionblocks.datasets import write_digits

    path = write_digits(args.out, size=args.size, per_class=args.per_class, labeled=not args.unlabeled)
    print(f"Wrote the digits to {path}")

"""CLI of the learning area: ``visionblocks weights list | fetch ARCH... | path ARCH`` and
``visionblocks export MODEL_DIR --format onnx [--out DIR]``.

``weights`` prepares machines for Pretrained = true: ``fetch`` downloads and checks the ImageNet
weights into the torch hub cache (on a machine with internet, or through a mirror), ``path``
prints where a file must go on an air-gapped machine, ``list`` shows what is cached. Building
the parser imports no torch; the commands do.
"""

from __future__ import annotations

from pathlib import Path

from visionblocks.learn.choices import ARCHITECTURES, EXPORT_FORMATS


def add_commands(sub) -> None:
    _add_weights(sub)
    _add_export(sub)


def _add_weights(sub) -> None:
    p = sub.add_parser("weights", help="pretrained ImageNet weights: list, fetch into the cache, or print the path")
    actions = p.add_subparsers(dest="weights_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every architecture, its weights file and whether it is cached")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list)
    fetch = actions.add_parser("fetch", help="download and check weights into the torch hub cache")
    fetch.add_argument("architectures", nargs="+", metavar="ARCH", choices=ARCHITECTURES,
                       help=f"architectures: {', '.join(ARCHITECTURES)}")
    fetch.add_argument("--mirror", help="base URL or folder that holds the files under torchvision's names "
                                        "(default: $VISIONBLOCKS_WEIGHTS_MIRROR, else torchvision's address)")
    fetch.set_defaults(func=cmd_fetch)
    path = actions.add_parser("path", help="print where the weights file of ARCH goes (whether or not it is there)")
    path.add_argument("architecture", metavar="ARCH", choices=ARCHITECTURES)
    path.set_defaults(func=cmd_path)


def cmd_list(args) -> None:
    from visionblocks.cli import print_json
    from visionblocks.learn import weights

    rows = []
    for arch in weights.architectures():
        path = weights.cached_path(arch)
        rows.append({"architecture": arch, "file": path.name, "cached": path.is_file(), "path": str(path)})
    if args.json:
        print_json(rows)
        return
    width = max(len(row["architecture"]) for row in rows)
    file_width = max(len(row["file"]) for row in rows)
    print(f"weights cache: {weights.cache_dir()}")
    for row in rows:
        print(f"{row['architecture']:<{width}}  {row['file']:<{file_width}}  {'cached' if row['cached'] else '-'}")


def cmd_fetch(args) -> None:
    from visionblocks.learn import weights
    from visionblocks.progress import Progress

    progress = Progress("weights")
    for arch in dict.fromkeys(args.architectures):  # each once, in the order given
        print(weights.fetch(arch, mirror=args.mirror, progress=progress), flush=True)


def cmd_path(args) -> None:
    from visionblocks.learn import weights

    print(weights.cached_path(args.architecture))


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to a self-contained ONNX folder")
    p.add_argument("model_dir", type=Path, help="a ModelDirectory (the Trained model output of Train PyTorch Model)")
    p.add_argument("--format", default="onnx", choices=EXPORT_FORMATS, help="the export format (default: %(default)s)")
    p.add_argument("--out", type=Path, help="the folder to write (default: MODEL_DIR_onnx beside MODEL_DIR)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> None:
    from visionblocks.learn import export

    result = export.export_onnx(args.model_dir, args.out or export.default_out(args.model_dir))
    print(result.folder, flush=True)

"""CLI: ``visionblocks serve`` (the service), ``visionblocks score`` and ``visionblocks loadtest`` (clients).

The key may come from ``--key`` or the ``VISIONBLOCKS_KEY`` environment variable (which keeps it
out of the process list).
"""

from __future__ import annotations

import os
from pathlib import Path

from visionblocks.learn.choices import DEFAULT_BATCH_SIZE, PRECISIONS, RUNTIMES
from visionblocks.service import settings
from visionblocks.service.settings import Batching, Limits
from visionblocks.units import MIB

KEY_ENV = "VISIONBLOCKS_KEY"


def add_commands(sub) -> None:
    _add_serve(sub)
    _add_score(sub)
    _add_loadtest(sub)


def _add_serve(sub) -> None:
    """``serve``'s options; every default is the one of :mod:`.settings`."""
    limits, batching = Limits(), Batching()
    p = sub.add_parser("serve", help="serve a trained model as a real-time scoring endpoint")
    p.add_argument("model_dir", type=Path, help="a ModelDirectory (the Trained model output of Train PyTorch Model)")
    p.add_argument("--host", default=settings.HOST, help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=settings.PORT, help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--key", default=os.environ.get(KEY_ENV),
                   help=f"require Authorization: Bearer KEY (default: ${KEY_ENV}, else no key)")
    p.add_argument("--device", help="auto (default), cpu, cuda or mps")
    p.add_argument("--precision", default="auto", choices=PRECISIONS)
    p.add_argument("--runtime", default="torch", choices=RUNTIMES,
                   help="torch (default), or onnx: onnxruntime on MODEL_DIR's ONNX export "
                        "(a `visionblocks export` folder, or a ModelDirectory exported at start)")
    p.add_argument("--top-k", type=int, default=settings.TOP_K,
                   help="classes listed in top_k when the request does not say (default: %(default)s)")
    p.add_argument("--max-batch", type=int, default=batching.max_batch,
                   help="images per forward pass; 1 turns micro-batching off (default: %(default)s)")
    p.add_argument("--max-wait-ms", type=float, default=batching.max_wait_ms,
                   help="how long a queued image may wait for others to share its forward pass (default: %(default)s)")
    p.add_argument("--max-queue", type=int, default=limits.max_queue,
                   help="images waiting at most; more is answered 503 (default: %(default)s)")
    p.add_argument("--max-body-mb", type=float, default=limits.max_body_bytes / MIB,
                   help="largest request body in MiB (default: %(default)g)")
    p.add_argument("--max-images", type=int, default=limits.max_images, help="images per request (default: %(default)s)")
    p.add_argument("--max-pixels", type=int, default=limits.max_pixels,
                   help="width x height of one image (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=limits.timeout_s,
                   help="seconds allowed per request (default: %(default)g)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="score images: a folder or archive with a model directory, or files with a "
                                     "running service")
    p.add_argument("target", help="a ModelDirectory (scores here), or a running service's address, "
                                  "e.g. http://127.0.0.1:8000")
    p.add_argument("images", nargs="+", type=Path,
                   help="with a ModelDirectory: one folder or archive of images (or an ImageDirectory); "
                        "with a service: image files")
    p.add_argument("--out", type=Path, help="write the rows to this .parquet or .csv file (required with a "
                                            "ModelDirectory; with a service the rows are printed otherwise)")
    p.add_argument("--device", help="with a ModelDirectory: auto (default), cpu, cuda or mps")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="with a ModelDirectory: auto (default), or fp32 for the same probabilities on every machine")
    p.add_argument("--batch-size", type=int, help=f"with a ModelDirectory: images per batch (default: {DEFAULT_BATCH_SIZE})")
    p.add_argument("--key", help=f"with a service: the service key (default: ${KEY_ENV})")
    p.add_argument("--top-k", type=int, help="with a service: how many classes to list per image")
    p.add_argument("--json", action="store_true", help="with a service: print the rows as JSON")
    p.set_defaults(func=cmd_score)


def _add_loadtest(sub) -> None:
    p = sub.add_parser("loadtest", help="measure a running service: throughput, latency percentiles, errors")
    p.add_argument("url", help="the service's address, e.g. http://127.0.0.1:8000")
    p.add_argument("--requests", type=int, default=200, help="requests to send in all (default: 200)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight at once (default: 16)")
    p.add_argument("--images-per-request", type=int, default=1)
    p.add_argument("--images", nargs="+", type=Path,
                   help="image files to send (default: the bundled digits at the model's input size)")
    p.add_argument("--time-limit", type=float, default=120.0,
                   help="stop sending new requests after this many seconds (default: 120)")
    p.add_argument("--key", default=os.environ.get(KEY_ENV), help=f"the service key (default: ${KEY_ENV})")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_loadtest)


def cmd_serve(args) -> None:
    from visionblocks.learn.onnx_runtime import make_scorer
    from visionblocks.service.app import create_app, run

    limits, batching = settings_from_args(args)
    scorer = make_scorer(args.runtime, args.model_dir, args.device, args.precision, batch_size=args.max_batch)
    print(f"visionblocks: loaded {scorer!r}; key {'required' if args.key else 'not required'}", flush=True)
    run(create_app(scorer, limits, batching, key=args.key, top_k=args.top_k), args.host, args.port,
        args.log_level, args.access_log)


def settings_from_args(args) -> tuple[Limits, Batching]:
    """``serve``'s options as the app's settings (the options' defaults give the defaults back)."""
    limits = Limits(max_body_bytes=int(args.max_body_mb * MIB), max_images=args.max_images,
                    max_pixels=args.max_pixels, timeout_s=args.timeout, max_queue=args.max_queue)
    return limits, Batching(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms)


def cmd_score(args) -> None:
    """``score URL FILE...`` asks a running service; ``score MODEL_DIR FOLDER_OR_ARCHIVE`` scores here."""
    from visionblocks import errors
    from visionblocks.service.batch_score import output_format

    if args.out is not None:
        output_format(args.out)  # a wrong suffix fails before any work
    service = is_service_address(args.target)
    _refuse_options(args, _LOCAL_OPTIONS if service else _SERVICE_OPTIONS,
                    "a service address" if service else "a model directory")
    if service:
        return _score_with_service(args)
    if args.out is None:
        raise errors.NullOrEmptyError("Scoring with a model directory needs --out, the .parquet or .csv file to write.")
    if len(args.images) != 1:
        raise errors.ParameterParsingError(
            f"Scoring with a model directory takes one folder or archive of images, not {len(args.images)} paths.",
            hint="Put the images in one folder, or send files to a running service: visionblocks score URL FILE...")
    from visionblocks.service.batch_score import score_folder

    score_folder(Path(args.target), args.images[0], args.out, device=args.device, precision=args.precision or "auto",
                 batch_size=args.batch_size or DEFAULT_BATCH_SIZE)


def is_service_address(target: str) -> bool:
    return target.startswith(("http://", "https://"))


# The options that only one form of ``score`` reads: giving one to the other form is an error.
_LOCAL_OPTIONS = ("device", "precision", "batch_size")
_SERVICE_OPTIONS = ("key", "top_k", "json")


def _refuse_options(args, names: tuple[str, ...], form: str) -> None:
    from visionblocks import errors

    given = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) not in (None, False)]
    if given:
        raise errors.ParameterParsingError(f"{', '.join(given)} cannot be used when scoring with {form}.")


def _score_with_service(args) -> None:
    from visionblocks.cli import print_json
    from visionblocks.service.client import Client

    with Client(args.target, args.key or os.environ.get(KEY_ENV)) as client:
        rows = client.score(args.images, args.top_k)
    if args.out:
        from visionblocks.service.batch_score import write_rows

        write_rows([{"file": str(path), **{k: v for k, v in row.items() if k != "top_k"}}
                    for path, row in zip(args.images, rows)], args.out)
    elif args.json:
        print_json([{"file": str(path), **row} for path, row in zip(args.images, rows)])
    else:
        for path, row in zip(args.images, rows):
            ranked = ", ".join(f"{entry['label']} {entry['probability']:.4f}" for entry in row["top_k"])
            print(f"{path}: {row['Scored Labels']} ({ranked})")


def cmd_loadtest(args) -> None:
    from visionblocks.cli import print_json
    from visionblocks.service.loadtest import default_images, run_loadtest

    images = [path.read_bytes() for path in args.images] if args.images else default_images(args.url, args.key)
    report = run_loadtest(args.url, images, requests=args.requests, concurrency=args.concurrency,
                          images_per_request=args.images_per_request, key=args.key, time_limit_s=args.time_limit)
    if args.json:
        print_json(report.as_dict())
    else:
        print(report.text())
    return 1 if report.errors else 0

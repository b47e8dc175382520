"""CLI: ``visionblocks studio [PIPELINE.yaml]``, the canvas as a local web app.

The key may come from ``--key`` or ``VISIONBLOCKS_STUDIO_KEY`` (which keeps it out of the process
list). Every default is the one of :mod:`.settings`.
"""

from __future__ import annotations

import os
from pathlib import Path

from visionblocks.messages import LANGUAGES
from visionblocks.studio import settings
from visionblocks.units import MIB

KEY_ENV = "VISIONBLOCKS_STUDIO_KEY"


def add_commands(sub) -> None:
    p = sub.add_parser("studio", help="the canvas: build, run and look at pipelines in the browser")
    p.add_argument("pipeline", nargs="?", type=Path,
                   help="the pipeline YAML to open (and save to); a new file is created on the first save")
    p.add_argument("--host", default=settings.HOST, help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=settings.PORT, help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--key", default=os.environ.get(KEY_ENV),
                   help=f"require this key: open the page as /?key=KEY (default: ${KEY_ENV}, else no key)")
    p.add_argument("--out", type=Path, help="the run folder (default: runs/<pipeline name>)")
    p.add_argument("--lang", default="en", choices=LANGUAGES, help="the page's first language (default: %(default)s)")
    p.add_argument("--docs-url", default=os.environ.get("VISIONBLOCKS_SITE_URL", settings.DOCS_URL),
                   help="the docs site the module links point at (default: %(default)s)")
    p.add_argument("--max-body-mb", type=float, default=settings.MAX_BODY_BYTES / MIB,
                   help="largest request body in MiB (default: %(default)g)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=cmd_studio)


def cmd_studio(args) -> None:
    from visionblocks.studio.app import create_app, run

    options = settings.StudioSettings(pipeline=args.pipeline, host=args.host, out=args.out, key=args.key, language=args.lang,
                                      max_body_bytes=int(args.max_body_mb * MIB), docs_url=args.docs_url)
    if args.pipeline is not None and args.pipeline.is_file():
        from visionblocks.studio.document import load

        load(args.pipeline)  # a file the studio cannot open fails here, with its code, not in the page
    print(f"visionblocks: studio on {args.pipeline or 'a new pipeline'}; key "
          f"{'required' if args.key else 'not required'}", flush=True)
    run(create_app(options), args.host, args.port, args.log_level)

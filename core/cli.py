"""The ``visionblocks`` command line.

Failures print one line — designer code, name, message, hint — and exit non-zero; the
traceback appears only with ``--debug``. Every sub-command comes from a plugin, through the
``visionblocks_register_commands`` hook: the built-in ``commands`` plugin
(``visionblocks.plugins.commands``) adds those of the feature areas, so this module imports none
of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from visionblocks import errors
from visionblocks.device import tune_threads
from visionblocks.registry import DuplicateNameError


def _key_value(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visionblocks", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    from visionblocks import __version__

    parser.add_argument("--version", action="version", version=f"visionblocks {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from visionblocks.plugin_host import add_commands

    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except DuplicateNameError as exc:  # two plugins add the same command: say which, in one line
        print(f"Error 1000 LibraryException: {exc}. Hint: uninstall one of the two plugins, or set "
              "VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD=1 to load only the built-in ones.", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    # The command line owns its process, so it, not the library, sets the process-wide thread count.
    tune_threads()
    try:
        result = args.func(args)
        return int(result or 0)
    except errors.ModuleError as exc:
        if args.debug:
            traceback.print_exc()
        print(exc.one_line(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if args.debug:
            traceback.print_exc()
        name = type(exc).__name__
        print(f"Error 1000 LibraryException: {name}: {exc} Hint: run again with --debug for the traceback.",
              file=sys.stderr)
        return 1


def print_json(data) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    sys.exit(main())

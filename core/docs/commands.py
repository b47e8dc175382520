"""``visionblocks describe`` (a module's reference as text) and ``visionblocks docs`` (generate the
module reference pages, extract the translation catalogs)."""

from __future__ import annotations

import sys
from pathlib import Path

from visionblocks.docs.i18n import LANGUAGES


def add_commands(sub) -> None:
    p = sub.add_parser("describe", help="show a module's ports, parameters and errors")
    p.add_argument("module")
    p.add_argument("--lang", default=LANGUAGES[0], choices=LANGUAGES)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("docs", help="generate the module reference pages and the translation catalogs")
    dsub = p.add_subparsers(dest="docs_command", required=True, metavar="ACTION")

    g = dsub.add_parser("generate", help="write docs/modules/<id>[.<lang>].md and the module indexes")
    g.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a page is missing, stale or left over")
    g.add_argument("--out", type=Path, default=None, help="folder to write into (default: docs/modules)")
    g.set_defaults(func=cmd_generate)

    e = dsub.add_parser("extract",
                        help="write translations/visionblocks.pot and update the es, pt, ru, fr catalogs")
    e.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when the template or a catalog is out of date")
    e.add_argument("--plugin", default=None,
                   help="extract only this third-party plugin's modules (a template for its own catalogs)")
    e.add_argument("--out", type=Path, default=None, help="folder of the catalogs (default: translations/)")
    e.set_defaults(func=cmd_extract)

    t = dsub.add_parser("test", help="render a plugin's module pages in every language and run their examples")
    t.add_argument("plugin", nargs="+", help="the plugin's entry-point name or package name")
    t.add_argument("--pytest-args", default="", metavar="ARGS",
                   help="more pytest options, as one string (for example \"-x -q\")")
    t.set_defaults(func=cmd_test)

    s = dsub.add_parser("site", help="write a plugin's own five-language MkDocs site (mkdocs build --strict)")
    s.add_argument("--plugin", required=True, help="the plugin's entry-point name or package name")
    s.add_argument("--out", type=Path, required=True, help="folder of the site's project (mkdocs.yml, docs/)")
    s.add_argument("--site-name", default=None, help="the site's title (default: the plugin's name)")
    s.set_defaults(func=cmd_site)


def cmd_describe(args) -> None:
    from visionblocks.docs.describe import describe_text
    from visionblocks.plugin_host import get_registry

    print(describe_text(get_registry().get(args.module), args.lang))


def cmd_generate(args) -> int:
    from visionblocks.docs import pages as docs_gen

    folder = args.out or docs_gen.MODULES_DIR
    pages = docs_gen.render_pages(docs_gen.registered_specs())
    if args.check:
        problems = [f"{diff.problem}: {folder / diff.name}" for diff in docs_gen.compare(pages, folder)]
        if _report_stale(problems, "The module pages are out of date; run `visionblocks docs generate`."):
            return 1
        print(f"{len(pages)} module pages are up to date in {folder}")
        return 0
    changes = docs_gen.write_pages(pages, folder)
    for diff in changes:
        print(f"{'removed' if diff.problem == 'extra' else 'wrote'} {folder / diff.name}")
    print(f"{len(pages)} pages in {folder}, {len(changes)} changed")
    return 0


def cmd_extract(args) -> int:
    from visionblocks.docs import catalog
    from visionblocks.docs.plugin_docs import plugin_specs

    if args.plugin:
        specs = plugin_specs(args.plugin)  # its entry-point or package name; an unknown one is error 0008
        if args.out is None:
            print("--plugin needs --out: the folder of that plugin's catalogs", file=sys.stderr)
            return 2
        messages, use_glossary = catalog.collect(specs, include_shared=False), False
    else:
        messages, use_glossary = catalog.collect(catalog.builtin_specs()), True
    folder = args.out or catalog.TRANSLATIONS
    rendered = catalog.render_catalogs(messages, folder, use_glossary=use_glossary, plugin=args.plugin)
    if args.check:
        stale = [f"out of date: {path}" for path in catalog.out_of_date(rendered)]
        if _report_stale(stale, "Run `visionblocks docs extract` to update the catalogs."):
            return 1
        print(f"{len(messages)} messages; the template and catalogs in {folder} are up to date")
        return 0
    changed = catalog.write_changed(rendered)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(messages)} messages, {len(changed)} files changed in {folder}")
    return 0


def _report_stale(problems: list[str], advice: str) -> bool:
    """Print each problem and the command that fixes them to stderr; True when there were any."""
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(advice, file=sys.stderr)
    return bool(problems)


def cmd_test(args) -> int:
    """pytest on the plugin's rendered pages alone, with the kit registered directly (so it works
    when pytest's plugin autoloading is off) and an empty configuration (the current project's
    pytest settings do not apply to these pages)."""
    import shlex
    import shutil

    import pytest

    from visionblocks.docs.pytest_plugin import PluginPages

    kit = PluginPages(args.plugin)
    try:
        ini = kit.folder / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")
        return int(pytest.main(["-c", str(ini), "--rootdir", str(kit.folder), "-p", "no:cacheprovider",
                                *shlex.split(args.pytest_args), str(kit.folder)], plugins=[kit]))
    finally:
        shutil.rmtree(kit.folder, ignore_errors=True)


def cmd_site(args) -> int:
    from visionblocks.docs.site import write_site

    written = write_site(args.plugin, args.out, args.site_name)
    for path in written:
        print(f"wrote {path}")
    print(f"site of plugin {args.plugin} in {args.out} ({len(written)} files changed); "
          f"build it with: cd {args.out} && mkdocs build --strict")
    return 0

"""One plugin's documentation: its modules, and their pages in every language in a folder of one's choice.

What the doc-test kit (:mod:`visionblocks.docs.pytest_plugin`) and a plugin's own site
(:mod:`visionblocks.docs.site`) start from. The pages are the ones ``visionblocks docs generate``
writes for the main site, rendered from the installed plugin's metadata and catalogs; links
between them stay inside the plugin (the module index and the related modules).
"""

from __future__ import annotations

from pathlib import Path

from visionblocks import errors
from visionblocks.docs import pages
from visionblocks.spec import ModuleSpec


def plugin_specs(plugin: str) -> list[ModuleSpec]:
    """The modules registered by ``plugin``: its entry-point name (``mobilenet``) or the name of the
    package that installed it (``visionblocks-mobilenet``)."""
    from visionblocks.plugin_host import get_registry, list_plugins

    names = {info["name"] for info in list_plugins()
             if plugin in (info["name"], info["package"])}
    specs = [spec for spec in get_registry() if spec.plugin in names]
    if not specs:
        known = sorted({spec.plugin for spec in get_registry() if spec.plugin})
        raise errors.NotInRangeValueError(
            f"No module is registered by plugin {plugin!r}; plugins with modules: {', '.join(known)}.",
            hint="Install the plugin's package in this environment (`visionblocks plugins` lists what is loaded).")
    return specs


def write_plugin_pages(plugin: str, folder: Path) -> list[Path]:
    """Write the module pages and module index of ``plugin`` in every language into ``folder``."""
    rendered = pages.render_pages(plugin_specs(plugin))
    pages.write_pages(rendered, folder)
    return [folder / name for name in sorted(rendered)]

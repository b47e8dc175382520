"""The hooks a visionblocks plugin can implement. These docstrings are the reference.

A plugin is any importable object (usually a module) with functions decorated with
``visionblocks.hookimpl``. Plugins are found through the ``visionblocks`` entry-point group;
the built-in modules load through that same group, so they are plugins like any other.

Example plugin (``my_plugin.py``)::

    import visionblocks
    from visionblocks.spec import ModuleSpec

    @visionblocks.hookimpl
    def visionblocks_register_modules(register):
        register(ModuleSpec(id="my-module", name="My Module", ...))

and in its ``pyproject.toml``::

    [project.entry-points.visionblocks]
    my_plugin = "my_plugin"
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("visionblocks")


@hookspec
def visionblocks_register_modules(register):
    """Register modules by calling ``register(spec)`` once per :class:`~visionblocks.spec.ModuleSpec`.

    A module id may be registered only once across all plugins: a second registration raises
    :class:`~visionblocks.registry.DuplicateModuleError` naming both plugins.
    """


@hookspec
def visionblocks_translation_dirs():
    """Return a path, or a list of paths, holding gettext catalogs for this plugin's text.

    Each path contains ``<lang>/LC_MESSAGES/*.po`` (lang is ``es``, ``pt``, ``ru`` or ``fr``).
    Entries are keyed by ``msgctxt`` = ``<module-id>.<field>`` and ``msgid`` = the English text,
    so a plugin's catalogs never clash with another's. Text without a translation is shown in
    English with a "not yet translated" note.
    """

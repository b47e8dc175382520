"""Finding plugins, registering them with pluggy, and building the module registry.

Built-in plugins are found through the ``visionblocks`` entry-point group like any third-party
plugin. Set ``VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins (useful when a
broken third-party plugin is installed), as pytest does with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from pathlib import Path
from types import ModuleType

import pluggy

from visionblocks import hookspecs
from visionblocks.registry import Registry

PROJECT = "visionblocks"
DISABLE_ENV = "VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD"

_extra_plugins: list[tuple[object, str]] = []
_distributions: dict[str, importlib.metadata.Distribution] = {}  # plugin name -> installed package


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    autoload = os.environ.get(DISABLE_ENV, "").lower() not in ("1", "true", "yes")
    for ep in importlib.metadata.entry_points(group=PROJECT):
        dist = ep.dist.name if ep.dist else ""
        if not autoload and dist != PROJECT:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue  # the same entry point seen twice on sys.path
        plugin = ep.load()
        pm.register(plugin, name=ep.name)
        if ep.dist is not None:
            _distributions[ep.name] = ep.dist
    for plugin, name in _extra_plugins:
        pm.register(plugin, name=name)
    pm.check_pending()  # a misspelled hook name fails loudly instead of being ignored
    return pm


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object in this process (tests, notebooks, the docs' plugin example)."""
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    _extra_plugins.append((plugin, name))
    reset()


def unregister_plugin(name: str) -> None:
    _extra_plugins[:] = [(p, n) for p, n in _extra_plugins if n != name]
    reset()


def reset() -> None:
    """Forget the loaded plugins and registry; the next call rebuilds them."""
    get_plugin_manager.cache_clear()
    get_registry.cache_clear()


@functools.lru_cache(maxsize=1)
def get_registry() -> Registry:
    pm = get_plugin_manager()
    registry = Registry()
    # Call each implementation on its own so the registry knows which plugin registered what
    # (needed for the duplicate-id error and for `visionblocks plugins`).
    for impl in pm.hook.visionblocks_register_modules.get_hookimpls():  # registration order
        impl.function(register=functools.partial(registry.register, plugin=impl.plugin_name))
    return registry


def translation_dirs() -> list[Path]:
    dirs: list[Path] = []
    for result in get_plugin_manager().hook.visionblocks_translation_dirs():
        items = result if isinstance(result, (list, tuple)) else [result]
        dirs.extend(Path(p) for p in items)
    return dirs


def list_plugins() -> list[dict]:
    """Name, version, hooks and modules of every loaded plugin (``visionblocks plugins``)."""
    pm = get_plugin_manager()
    registry = get_registry()
    result = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        dist = _distributions.get(name)
        result.append(
            {
                "name": name,
                "package": dist.metadata["Name"] if dist else None,
                "version": dist.version if dist else None,
                "module": plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__name__,
                "hooks": sorted(caller.name for caller in pm.get_hookcallers(plugin) or []),
                "modules": sorted(spec.id for spec in registry if spec.plugin == name),
            }
        )
    return result

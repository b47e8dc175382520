"""Finding plugins, registering them with pluggy, and building the module registry.

Built-in plugins are found through the ``visionblocks`` entry-point group like any third-party
plugin. Set ``VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins (useful when a
broken third-party plugin is installed), as pytest does with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from visionblocks import hookspecs
from visionblocks.registry import Registry

PROJECT = "visionblocks"
DISABLE_ENV = "VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD"


class _Host:
    """All the plugin state of this process, in one place.

    ``extra``: the plugins registered by hand (:func:`register_plugin`), which survive a reset.
    ``loaded``: what was built from them and the entry points (plugin manager, plugin name ->
    installed package, module registry), built on first use and dropped as a whole by
    :func:`reset`, so nothing of an earlier load is left behind.
    """

    def __init__(self) -> None:
        self.extra: list[tuple[object, str]] = []
        self.loaded: _Loaded | None = None
        self.lock = threading.RLock()  # the service may ask for the registry from several threads


@dataclass
class _Loaded:
    manager: pluggy.PluginManager
    distributions: dict[str, importlib.metadata.Distribution]  # plugin name -> installed package
    registry: Registry | None = None  # built on first use: a duplicate module id fails there


_host = _Host()


def _load() -> _Loaded:
    with _host.lock:
        if _host.loaded is None:
            _host.loaded = _load_plugins(_host.extra)
        return _host.loaded


def _load_plugins(extra: list[tuple[object, str]]) -> _Loaded:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    distributions: dict[str, importlib.metadata.Distribution] = {}
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
            distributions[ep.name] = ep.dist
    for plugin, name in extra:
        pm.register(plugin, name=name)
    pm.check_pending()  # a misspelled hook name fails loudly instead of being ignored
    return _Loaded(pm, distributions)


def get_plugin_manager() -> pluggy.PluginManager:
    return _load().manager


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object in this process (tests, notebooks, the docs' plugin example)."""
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    with _host.lock:
        _host.extra.append((plugin, name))
        reset()


def unregister_plugin(name: str) -> None:
    with _host.lock:
        _host.extra[:] = [(p, n) for p, n in _host.extra if n != name]
        reset()


def reset() -> None:
    """Forget the loaded plugins, their packages and the registry; the next call rebuilds them
    (plugins registered by hand stay registered)."""
    with _host.lock:
        _host.loaded = None


def get_registry() -> Registry:
    with _host.lock:
        loaded = _load()
        if loaded.registry is None:
            loaded.registry = _build_registry(loaded.manager)
        return loaded.registry


def _build_registry(pm: pluggy.PluginManager) -> Registry:
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
    registry = get_registry()
    loaded = _load()
    pm = loaded.manager
    result = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: item[0]):
        dist = loaded.distributions.get(name)
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

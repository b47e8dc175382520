"""Finding plugins, registering them with pluggy, and building the registries of what they add:
modules, architectures, transform operations and ``visionblocks`` sub-commands.

Built-in plugins are found through the ``visionblocks`` entry-point group like any third-party
plugin. Set ``VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD=1`` to load only the built-ins (useful when a
broken third-party plugin is installed), as pytest does with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from visionblocks import hookspecs
from visionblocks.registry import ArchitectureRegistry, CommandRegistry, NamedRegistry, Registry, TransformRegistry

PROJECT = "visionblocks"
DISABLE_ENV = "VISIONBLOCKS_DISABLE_PLUGIN_AUTOLOAD"


class _Host:
    """All the plugin state of this process, in one place.

    ``extra``: the plugins registered by hand (:func:`register_plugin`), which survive a reset.
    ``loaded``: what was built from them and the entry points (plugin manager, plugin name ->
    installed package, the registries), built on first use and dropped as a whole by
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
    architectures: ArchitectureRegistry | None = None  # the same for each kind below
    transforms: TransformRegistry | None = None
    commands: CommandRegistry | None = None  # filled when a command line is built


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
    # Built-ins first, whatever the order of sys.path: the registries list them first and a
    # duplicate-name error names the built-in first.
    eps = sorted(importlib.metadata.entry_points(group=PROJECT), key=lambda ep: (ep.dist.name if ep.dist else "") != PROJECT)
    for ep in eps:
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
    return _built("registry", Registry, "visionblocks_register_modules")


def get_architectures() -> ArchitectureRegistry:
    """Every registered architecture (``visionblocks_register_architectures``), by name."""
    return _built("architectures", ArchitectureRegistry, "visionblocks_register_architectures")


def get_transforms() -> TransformRegistry:
    """Every registered transform operation (``visionblocks_register_transforms``), by name."""
    return _built("transforms", TransformRegistry, "visionblocks_register_transforms")


def _built(field: str, empty: type, hook_name: str):
    """The registry kept in ``_Loaded.<field>``, filled from ``hook_name`` on first use (a duplicate
    name fails there). Each implementation is called on its own so the registry knows which plugin
    registered what (needed for the duplicate-name error and for ``visionblocks plugins``)."""
    with _host.lock:
        loaded = _load()
        if getattr(loaded, field) is None:
            registry = empty()
            for impl in getattr(loaded.manager.hook, hook_name).get_hookimpls():  # registration order
                impl.function(register=functools.partial(registry.register, plugin=impl.plugin_name))
            setattr(loaded, field, registry)
        return getattr(loaded, field)


class PluginSubparsers:
    """What ``visionblocks_register_commands`` receives: argparse's sub-parser action for one
    plugin, which records the commands it adds so that a name added twice names both plugins."""

    def __init__(self, action: argparse._SubParsersAction, commands: CommandRegistry, plugin: str):
        self._action, self._commands, self.plugin = action, commands, plugin

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        for claimed in (name, *kwargs.get("aliases", ())):
            self._commands.claim(claimed, self.plugin)
        return self._action.add_parser(name, **kwargs)


def add_commands(subparsers: argparse._SubParsersAction) -> CommandRegistry:
    """Let every plugin add its sub-commands to ``subparsers`` (the command line's)."""
    with _host.lock:
        loaded = _load()
        commands = CommandRegistry()
        for impl in loaded.manager.hook.visionblocks_register_commands.get_hookimpls():  # registration order
            impl.function(subparsers=PluginSubparsers(subparsers, commands, impl.plugin_name))
        loaded.commands = commands
        return commands


def get_commands() -> CommandRegistry:
    """Which plugin added which sub-command (building a scratch command line when none was built)."""
    with _host.lock:
        loaded = _load()
        if loaded.commands is None:
            add_commands(argparse.ArgumentParser(prog=PROJECT).add_subparsers())
        return loaded.commands


def translation_dirs() -> list[Path]:
    dirs: list[Path] = []
    for result in get_plugin_manager().hook.visionblocks_translation_dirs():
        items = result if isinstance(result, (list, tuple)) else [result]
        dirs.extend(Path(p) for p in items)
    return dirs


def list_plugins() -> list[dict]:
    """Name, version, hooks, and the modules, architectures, transform operations and commands of
    every loaded plugin (``visionblocks plugins``)."""
    registry = get_registry()
    architectures, transforms, commands = get_architectures(), get_transforms(), get_commands()
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
                "architectures": _names_of(architectures, name),
                "transforms": _names_of(transforms, name),
                "commands": commands.names(name),
            }
        )
    return result


def _names_of(registry: NamedRegistry, plugin: str) -> list[str]:
    return [spec.name for spec in registry if spec.plugin == plugin]

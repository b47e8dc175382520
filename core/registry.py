"""The registries of what plugins add: modules (ModuleSpec by id), architectures
(ArchitectureSpec by name) and transform operations (TransformSpec by name), each entry with
the plugin that registered it. A name registered twice is an error naming both plugins."""

from __future__ import annotations

from dataclasses import replace
from typing import Generic, Iterable, TypeVar

from visionblocks import errors
from visionblocks.spec import ArchitectureSpec, ModuleSpec, TransformSpec


class DuplicateNameError(ValueError):
    """Two plugins registered the same name: a module id, an architecture, a transform operation
    or a command. The message names both plugins, the one registered first first."""

    def __init__(self, kind: str, name: str, first: str, second: str):
        self.kind, self.name, self.plugins = kind, name, (first or "?", second or "?")
        super().__init__(f"{kind} {name!r} is registered twice: by plugin {self.plugins[0]!r} "
                         f"and by plugin {self.plugins[1]!r}")


class DuplicateModuleError(DuplicateNameError):
    """Two plugins registered the same module id."""


class UnknownModuleError(errors.NotInRangeValueError, KeyError):
    """A module id that no installed plugin registered: the user's mistake, so a designer error.

    0008 NotInRangeValue, as for any value outside its allowed set (an enum parameter's
    choices): the allowed set here is the installed modules. Still a KeyError for callers that
    look modules up like a mapping."""

    hint = "Run 'visionblocks modules' to list the installed modules' ids."

    def __str__(self):  # KeyError quotes its argument; show the plain sentence instead
        return self.message


class Registry:
    def __init__(self):
        self._modules: dict[str, ModuleSpec] = {}

    def register(self, spec: ModuleSpec, plugin: str = "") -> ModuleSpec:
        if not isinstance(spec, ModuleSpec):
            raise TypeError(f"register() takes a ModuleSpec, got {type(spec).__name__}")
        if spec.id in self._modules:
            raise DuplicateModuleError("module id", spec.id, self._modules[spec.id].plugin, plugin)
        spec = replace(spec, plugin=plugin)
        self._modules[spec.id] = spec
        return spec

    def get(self, module_id: str) -> ModuleSpec:
        try:
            return self._modules[module_id]
        except KeyError:
            known = ", ".join(sorted(self._modules))
            raise UnknownModuleError(f"unknown module {module_id!r}; installed modules: {known}") from None

    def __contains__(self, module_id: str) -> bool:
        return module_id in self._modules

    def __iter__(self) -> Iterable[ModuleSpec]:
        return iter(sorted(self._modules.values(), key=lambda s: (s.category, s.name)))

    def __len__(self) -> int:
        return len(self._modules)

    def ids(self) -> list[str]:
        return sorted(self._modules)


class UnknownNameError(errors.NotInRangeValueError, KeyError):
    """An architecture or transform operation that no installed plugin registered (0008)."""

    def __str__(self):
        return self.message


Spec = TypeVar("Spec", ArchitectureSpec, TransformSpec)


class NamedRegistry(Generic[Spec]):
    """Specs of one kind by name, in registration order (built-ins first), with their plugin."""

    def __init__(self, kind: str, spec_type: type):
        self.kind = kind
        self._spec_type = spec_type
        self._specs: dict[str, Spec] = {}

    def register(self, spec: Spec, plugin: str = "") -> Spec:
        if not isinstance(spec, self._spec_type):
            raise TypeError(f"register() takes a {self._spec_type.__name__}, got {type(spec).__name__}")
        if spec.name in self._specs:
            raise DuplicateNameError(self.kind, spec.name, self._specs[spec.name].plugin, plugin)
        spec = replace(spec, plugin=plugin)
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> Spec:
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"unknown {self.kind} {name!r}; installed: {', '.join(self._specs)}.") from None

    def names(self) -> list[str]:
        return list(self._specs)

    def __contains__(self, name) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


class ArchitectureRegistry(NamedRegistry[ArchitectureSpec]):
    def __init__(self):
        super().__init__("architecture", ArchitectureSpec)

    def family(self, family: str) -> list[ArchitectureSpec]:
        """The architectures of ``family``, in registration order."""
        return [spec for spec in self if spec.family == family]


class TransformRegistry(NamedRegistry[TransformSpec]):
    def __init__(self):
        super().__init__("transform operation", TransformSpec)


class CommandRegistry:
    """Which plugin added which ``visionblocks`` sub-command (and alias)."""

    def __init__(self):
        self._plugins: dict[str, str] = {}

    def claim(self, name: str, plugin: str) -> None:
        if name in self._plugins:
            raise DuplicateNameError("command", name, self._plugins[name], plugin)
        self._plugins[name] = plugin

    def names(self, plugin: str | None = None) -> list[str]:
        return [name for name, owner in self._plugins.items() if plugin is None or owner == plugin]

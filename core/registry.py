"""The module registry: every ModuleSpec, by id, with the plugin that registered it."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from visionblocks import errors
from visionblocks.spec import ModuleSpec


class DuplicateModuleError(ValueError):
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
            first = self._modules[spec.id].plugin or "?"
            raise DuplicateModuleError(
                f"module id {spec.id!r} is registered twice: by plugin {first!r} and by plugin {plugin or '?'!r}"
            )
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

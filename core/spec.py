"""What a module is: its metadata (English source text) and its ``run`` function.

Everything a user reads about a module — CLI help, docs pages in five languages, pipeline
errors — comes from these objects. Prose fields are English; ``visionblocks.docs.i18n`` translates
them through the gettext catalogs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from visionblocks import errors

ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PARAM_TYPES = ("int", "float", "bool", "enum", "string", "path")


@dataclass(frozen=True)
class Port:
    """An input or output of a module.

    ``name`` is the identifier used in pipelines and on the CLI (``input_image_directory``);
    ``label`` is the designer's display name ("Input image directory").
    """

    name: str
    type: str
    label: str
    description: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Param:
    """A module parameter: type, default, allowed values or range, and help text.

    ``min``/``max`` bound the value inclusively; ``min_exclusive`` makes the lower bound strict
    (the designer's "> 0" ranges). ``required`` with ``default=None`` means the user must choose.
    ``enabled_by`` names a bool parameter that switches this one on (Size only matters when
    Resize is on); it is documentation and lets validation skip ranges of disabled values.
    """

    name: str
    type: str
    label: str
    help: str
    default: Any = None
    choices: tuple = ()
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    required: bool = False
    enabled_by: str | None = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}; use one of {PARAM_TYPES}")
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"parameter name {self.name!r} must be snake_case")
        if self.type == "enum" and not self.choices:
            raise ValueError(f"enum parameter {self.name!r} needs choices")

    def range_text(self) -> str:
        """The allowed values, as the docs and error messages show them (language-neutral)."""
        if self.type == "enum":
            return ", ".join(str(c) for c in self.choices)
        if self.type == "bool":
            return "true, false"
        def num(value) -> str:  # 178956970, not 1.78957e+08; 0.5 stays 0.5
            return str(int(value)) if self.type == "int" or float(value).is_integer() else f"{value:g}"

        lo = None if self.min is None else (f"> {num(self.min)}" if self.min_exclusive else f">= {num(self.min)}")
        if lo and self.max is not None:
            opening = "(" if self.min_exclusive else "["
            return f"{opening}{num(self.min)}, {num(self.max)}]"
        if lo:
            return lo
        if self.max is not None:
            return f"<= {num(self.max)}"
        return ""


@dataclass
class ModuleSpec:
    """A module as the registry, the runner, the CLI and the docs see it.

    ``run(ctx)`` receives a :class:`visionblocks.runner.RunContext` and writes each output port's
    directory under ``ctx.outputs[name]``. ``errors`` lists the error classes the module raises
    (shown on its docs page). ``examples`` are Markdown snippets with ```` ```python ```` doctest
    blocks, byte-identical in every language. ``notes`` says where visionblocks goes further than
    the designer. ``sections`` are extra (title, body) pairs that the docs page shows after the
    results, for topics only one module needs (Score Image Model: evaluating the scores,
    publishing as a web service); bodies may hold paragraphs (blank line between them), inline
    `code` and Markdown links such as ``[Evaluate Model](evaluate-model.md)``.
    """

    id: str
    name: str
    category: str
    summary: str
    description: str
    run: Callable[..., Any]
    version: str = "1"
    steps: tuple[str, ...] = ()
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    params: tuple[Param, ...] = ()
    results: tuple[tuple[str, str], ...] = ()
    errors: tuple[type[errors.ModuleError], ...] = ()
    related: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    sections: tuple[tuple[str, str], ...] = ()
    # True when every torchrun process takes part in ``run`` (training, scoring); a pipeline under
    # torchrun runs the other modules on rank 0 only.
    distributed: bool = False
    plugin: str = ""  # filled in by the registry: which plugin registered it

    def __post_init__(self):
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"module id {self.id!r} must be kebab-case, e.g. 'score-image-model'")
        for group in (self.inputs, self.outputs, self.params):
            names = [item.name for item in group]
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise ValueError(f"module {self.id!r}: duplicate names {sorted(dupes)}")

    def input(self, name: str) -> Port:
        return _find(self.inputs, name, self.id, "input port")

    def output(self, name: str) -> Port:
        return _find(self.outputs, name, self.id, "output port")

    def param(self, name: str) -> Param:
        return _find(self.params, name, self.id, "parameter")


def _find(items, name, module_id, kind):
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(i.name for i in items) or "none"
    raise KeyError(f"module {module_id!r} has no {kind} {name!r} (known: {known})")

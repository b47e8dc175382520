"""A module's reference as plain text for the terminal (`visionblocks describe`); not named
describe.py so that importing it cannot shadow the `visionblocks.describe()` function."""

from __future__ import annotations

from visionblocks.docs.i18n import Translator
from visionblocks.spec import ModuleSpec


def describe_text(spec: ModuleSpec, lang: str = "en") -> str:
    t = Translator(lang)  # the same catalogs as the docs pages, fixed phrases included
    inputs, outputs, parameters, errs = (t.ui(f"section.{key}")
                                         for key in ("inputs", "outputs", "parameters", "errors"))
    default, optional = t.ui("describe.default"), t.ui("optional")
    p = spec.id
    colon = " :" if lang == "fr" else ":"  # French typography: a space before the colon
    lines = [f"{t(f'{p}.name', spec.name)} ({spec.id})", t(f"{p}.summary", spec.summary), ""]
    for heading, kind, group in ((inputs, "input", spec.inputs), (outputs, "output", spec.outputs)):
        if group:
            lines.append(f"{heading}{colon}")
            for port in group:
                flag = f", {optional}" if port.optional else ""
                lines.append(f"  {port.name} ({port.type}{flag}): {t(f'{p}.{kind}.{port.name}.label', port.label)}")
    if spec.params:
        lines.append(f"{parameters}{colon}")
        for prm in spec.params:
            allowed = prm.range_text()
            if allowed:  # numeric ranges carry their own brackets; lists of values get them here
                allowed = f" [{allowed}]" if prm.type in ("enum", "bool") else f" {allowed}"
            lines.append(f"  {prm.name} ({prm.type}{allowed}, {default} {prm.default!r}): "
                         f"{t(f'{p}.param.{prm.name}.label', prm.label)} — {_plain(t(f'{p}.param.{prm.name}.help', prm.help))}")
    if spec.errors:
        lines.append(f"{errs}{colon}")
        for err in spec.errors:
            lines.append(f"  {err.code:04d} {err.name}")
    return "\n".join(lines)


def _plain(text: str) -> str:
    """Help text without the Markdown bold that marks labels on the docs pages (**Size**)."""
    return text.replace("**", "")

"""A module's reference as plain text for the terminal (``visionblocks describe``)."""

from __future__ import annotations

from .i18n import Translator
from .spec import ModuleSpec

def describe_text(spec: ModuleSpec, lang: str = "en") -> str:
    t = Translator(lang)  # the same catalogs as the docs pages, fixed phrases included
    inputs, outputs, parameters, errs = (t.ui(f"section.{key}")
                                         for key in ("inputs", "outputs", "parameters", "errors"))
    default, optional = t.ui("describe.default"), t.ui("optional")
    p = spec.id
    lines = [f"{t(f'{p}.name', spec.name)} ({spec.id})", t(f"{p}.summary", spec.summary), ""]
    for heading, kind, group in ((inputs, "input", spec.inputs), (outputs, "output", spec.outputs)):
        if group:
            lines.append(f"{heading}:")
            for port in group:
                flag = f", {optional}" if port.optional else ""
                lines.append(f"  {port.name} ({port.type}{flag}): {t(f'{p}.{kind}.{port.name}.label', port.label)}")
    if spec.params:
        lines.append(f"{parameters}:")
        for prm in spec.params:
            allowed = f" [{prm.range_text()}]" if prm.range_text() else ""
            lines.append(f"  {prm.name} ({prm.type}{allowed}, {default} {prm.default!r}): "
                         f"{t(f'{p}.param.{prm.name}.label', prm.label)} — {t(f'{p}.param.{prm.name}.help', prm.help)}")
    if spec.errors:
        lines.append(f"{errs}:")
        for err in spec.errors:
            lines.append(f"  {err.code:04d} {err.name}")
    return "\n".join(lines)

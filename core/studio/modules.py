"""The installed modules as the palette and the parameter forms see them, in one language.

Everything comes from each module's ModuleSpec and the catalogs (contexts
``<module-id>.<field>``, as the docs use them), so a plugin's module appears with its form, in
every language its catalogs cover, without a line of studio code. Parameter values are checked by
:func:`visionblocks.params.validate_params`, the check ``run`` makes, and answered with the
designer's error code and that error's message in the language.
"""

from __future__ import annotations

from typing import Any

from visionblocks import errors
from visionblocks.docs.i18n import Translator, choice_context
from visionblocks.params import check, coerce
from visionblocks.spec import ModuleSpec, Param, Port


def reference_url(docs_url: str, lang: str, module_id: str) -> str:
    """The module's reference page on the docs site (mkdocs-static-i18n's suffix layout)."""
    base = docs_url if docs_url.endswith("/") else docs_url + "/"
    return f"{base}{'' if lang == 'en' else lang + '/'}modules/{module_id}/"


def _port(spec: ModuleSpec, kind: str, port: Port, tr: Translator) -> dict:
    context = f"{spec.id}.{kind}.{port.name}"
    return {"name": port.name, "type": port.type, "label": tr(f"{context}.label", port.label),
            "description": tr(f"{context}.description", port.description), "optional": port.optional}


def _param(spec: ModuleSpec, param: Param, tr: Translator) -> dict:
    context = f"{spec.id}.param.{param.name}"
    # An option's display name: the catalog's, when a plugin gives one; else the value itself
    # (the designer shows its option values untranslated, and so do the module pages).
    choices = [{"value": str(choice), "label": tr(choice_context(spec.id, param.name, choice), str(choice))}
               for choice in param.choices]
    return {"name": param.name, "type": param.type, "label": tr(f"{context}.label", param.label),
            "help": tr(f"{context}.help", param.help), "default": param.default, "choices": choices,
            "min": param.min, "max": param.max, "min_exclusive": param.min_exclusive,
            "required": param.required, "enabled_by": param.enabled_by, "range": param.range_text()}


def describe(spec: ModuleSpec, tr: Translator, docs_url: str) -> dict:
    return {"id": spec.id, "name": tr(f"{spec.id}.name", spec.name),
            "category": tr(f"{spec.id}.category", spec.category),
            "summary": tr(f"{spec.id}.summary", spec.summary), "version": spec.version, "plugin": spec.plugin,
            "inputs": [_port(spec, "input", port, tr) for port in spec.inputs],
            "outputs": [_port(spec, "output", port, tr) for port in spec.outputs],
            "params": [_param(spec, param, tr) for param in spec.params],
            "reference": reference_url(docs_url, tr.lang, spec.id)}


def error_answer(exc: errors.ModuleError, tr: Translator) -> dict:
    """A designer error as the page shows it: code, name, the error's message in the language,
    and the specific English detail (which names the parameter, node or file) with its hint."""
    return {"code": exc.code_str, "name": exc.name, "message": tr.error_message(type(exc)),
            "detail": exc.message, "hint": exc.hint or ""}


def check_value(spec: ModuleSpec, name: str, value: Any, tr: Translator) -> dict | None:
    """None when ``value`` suits parameter ``name``; else the error answer (0002 parse, 0004–0008
    range). An empty value of a required parameter is 0003, as in a run."""
    param = spec.param(name)
    try:
        if value is None or (isinstance(value, str) and value == "" and param.type != "string"):
            if param.required:
                raise errors.NullOrEmptyError(f"Parameter '{param.name}' ({param.label}) is required.")
            return None
        check(param, coerce(param, value))
    except errors.ModuleError as exc:
        return error_answer(exc, tr)
    return None

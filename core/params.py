"""Parameter validation, done before ``run`` with the designer's error codes.

Values may arrive typed (Python API, YAML) or as strings (CLI ``--param NAME=VALUE``); both go
through :func:`validate_params`, so every entry point refuses the same bad values the same way.
"""

from __future__ import annotations

import math
from typing import Any

from visionblocks import errors
from visionblocks.spec import ModuleSpec, Param, resolve

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _describe(param: Param, value: Any) -> str:
    return f"parameter '{param.name}' ({param.label}) = {value!r}"


def coerce(param: Param, value: Any) -> Any:
    """Turn ``value`` into the parameter's Python type or raise ParameterParsing (0002)."""
    try:
        if param.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise ValueError
        if param.type == "int":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                return int(value)
            return int(str(value).strip())
        if param.type == "float":
            if isinstance(value, bool):
                raise ValueError
            result = float(value)
            if math.isnan(result) or math.isinf(result):
                raise ValueError
            return result
        if param.type in ("string", "path", "enum"):
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    raise errors.ParameterParsingError(
        f"Failed to parse {_describe(param, value)}: expected {param.type}"
        + (f" ({param.range_text()})" if param.range_text() else "") + "."
    )


def check(param: Param, value: Any) -> None:
    """Raise the designer's range error when ``value`` is outside what ``param`` allows, then run
    the parameter's own ``check`` (see :class:`~visionblocks.spec.Param`)."""
    _check_range(param, value)
    if param.check is not None:
        _run_own_check(param, value)


def _run_own_check(param: Param, value: Any) -> None:
    """``param.check(value)``; its ValueError or TypeError becomes ParameterParsing (0002) naming
    the parameter, its ModuleError passes as it is (the check named the parameter itself)."""
    try:
        resolve(param.check)(value)
    except errors.ModuleError:
        raise
    except (TypeError, ValueError) as exc:
        raise errors.ParameterParsingError(f"Failed to parse {_describe(param, value)}: {exc}") from None


def _check_range(param: Param, value: Any) -> None:
    if param.type == "enum" and value not in [str(c) for c in param.choices]:
        raise errors.NotInRangeValueError(
            f"{_describe(param, value)} is not one of the allowed values: {param.range_text()}."
        )
    if param.type not in ("int", "float"):
        return
    if param.min is not None:
        if param.min_exclusive and not value > param.min:
            raise errors.GreaterThanError(f"{_describe(param, value)} must be greater than {param.min:g}.")
        if not param.min_exclusive and value < param.min:
            if param.max is not None:
                raise errors.NotInRangeValueError(
                    f"{_describe(param, value)} is not in the range {param.range_text()}."
                )
            raise errors.GreaterThanOrEqualToError(
                f"{_describe(param, value)} must be greater than or equal to {param.min:g}."
            )
    if param.max is not None and value > param.max:
        if param.min is not None:
            raise errors.NotInRangeValueError(f"{_describe(param, value)} is not in the range {param.range_text()}.")
        raise errors.LessThanOrEqualToError(f"{_describe(param, value)} must be less than or equal to {param.max:g}.")


def validate_params(spec: ModuleSpec, given: dict[str, Any] | None) -> dict[str, Any]:
    """Return every parameter of ``spec`` with a checked value, defaults filled in.

    Unknown names are ParameterParsing (0002); a required parameter without a value is
    NullOrEmpty (0003); wrong types 0002; out-of-range values 0004/0005/0007/0008; a value its
    parameter's own ``check`` refuses, the code that check raises.
    """
    given = dict(given or {})
    known = {p.name for p in spec.params}
    unknown = sorted(set(given) - known)
    if unknown:
        raise errors.ParameterParsingError(
            f"Module '{spec.id}' has no parameter {', '.join(repr(u) for u in unknown)}; "
            f"known parameters: {', '.join(sorted(known)) or 'none'}."
        )
    values: dict[str, Any] = {}
    for param in spec.params:
        raw = given.get(param.name, param.default)
        if raw is None or (isinstance(raw, str) and raw == "" and param.type != "string"):
            if param.required:
                raise errors.NullOrEmptyError(
                    f"Parameter '{param.name}' ({param.label}) is required"
                    + (f"; choose one of: {param.range_text()}." if param.type == "enum" else ".")
                )
            values[param.name] = None
            continue
        value = coerce(param, raw)
        check(param, value)
        values[param.name] = value
    return values

import pytest

from visionblocks import errors
from visionblocks.params import validate_params
from visionblocks.spec import ModuleSpec, Param

SPEC = ModuleSpec(
    id="p", name="P", category="C", summary="s", description="d", run=lambda ctx: None,
    params=(
        Param("fraction", "float", "Fraction", "h", default=0.9, min=0, max=1),
        Param("epochs", "int", "Epochs", "h", default=5, min=0, min_exclusive=True),
        Param("padding", "int", "Padding", "h", default=0, min=0),
        Param("degrees", "int", "Degrees", "h", default=0, max=180),
        Param("mode", "enum", "Mode", "h", choices=("For training", "For inference"), required=True),
        Param("flip", "bool", "Flip", "h", default=True),
        Param("name", "string", "Name", "h", default="x"),
    ),
)
OK = {"mode": "For training"}


def test_defaults_and_coercion_from_strings():
    values = validate_params(SPEC, {"mode": "For inference", "epochs": "7", "flip": "false", "fraction": "0.5"})
    assert values == {"fraction": 0.5, "epochs": 7, "padding": 0, "degrees": 0, "mode": "For inference",
                      "flip": False, "name": "x"}


@pytest.mark.parametrize(
    "given, error, code, words",
    [
        ({"epochs": "five"}, errors.ParameterParsingError, 2, ["epochs", "'five'", "int"]),
        ({"epochs": 2.5}, errors.ParameterParsingError, 2, ["epochs"]),
        ({"flip": "maybe"}, errors.ParameterParsingError, 2, ["flip"]),
        ({"fraction": "nan"}, errors.ParameterParsingError, 2, ["fraction"]),
        ({"bogus": 1}, errors.ParameterParsingError, 2, ["bogus", "known parameters"]),
        ({"mode": None}, errors.NullOrEmptyError, 3, ["mode", "required", "For training"]),
        ({"epochs": 0}, errors.GreaterThanError, 4, ["epochs", "greater than 0"]),
        ({"padding": -1}, errors.GreaterThanOrEqualToError, 5, ["padding", "greater than or equal to 0"]),
        ({"degrees": 181}, errors.LessThanOrEqualToError, 7, ["degrees", "180"]),
        ({"fraction": 1.5}, errors.NotInRangeValueError, 8, ["fraction", "1.5", "[0, 1]"]),
        ({"mode": "For fun"}, errors.NotInRangeValueError, 8, ["mode", "For fun", "For inference"]),
    ],
)
def test_bad_values_get_designer_codes(given, error, code, words):
    with pytest.raises(error) as info:
        validate_params(SPEC, {**OK, **given})
    assert info.value.code == code
    for word in words:
        assert word in info.value.message


# -- a parameter's own check (Param.check) ------------------------------------------------------------
def even(value: int) -> None:
    """A check a type and a range cannot express; referred to by name below too."""
    if value % 2:
        raise ValueError("it must be even")


def no_sixes(value: str) -> None:
    if "6" in value:
        raise errors.NotInRangeValueError(f"parameter 'code' (Code): {value!r} holds a 6.")


CHECKED = ModuleSpec(
    id="checked", name="Checked", category="C", summary="s", description="d", run=lambda ctx: None,
    params=(
        Param("pairs", "int", "Pairs", "h", default=2, min=0, check=even),
        Param("twins", "int", "Twins", "h", default=4, check="tests.test_params:even"),
        Param("code", "string", "Code", "h", default="", check=no_sixes),
    ),
)


@pytest.mark.parametrize("given, error, words", [
    ({"pairs": 3}, errors.ParameterParsingError, ["parameter 'pairs' (Pairs) = 3", "it must be even"]),
    ({"twins": "5"}, errors.ParameterParsingError, ["parameter 'twins' (Twins) = 5", "it must be even"]),
    ({"code": "a6"}, errors.NotInRangeValueError, ["parameter 'code' (Code): 'a6' holds a 6."]),
    ({"pairs": -2}, errors.GreaterThanOrEqualToError, ["greater than or equal to 0"]),  # the range comes first
])
def test_a_parameters_own_check_refuses_with_a_designer_code(given, error, words):
    with pytest.raises(error) as info:
        validate_params(CHECKED, given)
    assert [word for word in words if word not in info.value.message] == []


def test_values_the_own_check_accepts_pass_unchanged():
    assert validate_params(CHECKED, {"pairs": "6", "twins": 8, "code": "abc"}) == {"pairs": 6, "twins": 8, "code": "abc"}


def test_a_check_must_be_a_callable_or_a_reference():
    with pytest.raises(ValueError, match="check must be a callable or a 'package.module:function' string"):
        Param("x", "int", "X", "h", check="not a reference")

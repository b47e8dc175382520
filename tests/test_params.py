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

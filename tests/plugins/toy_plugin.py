"""A third-party plugin used by the tests: it lives outside the package and is installed into a
temporary folder with its own dist-info entry point."""

import pandas as pd

import visionblocks
from visionblocks import ports
from visionblocks.dataframe import read_dataframe, write_dataframe
from visionblocks.spec import ModuleSpec, Param, Port


def _source(ctx):
    write_dataframe(ctx.outputs["table"], pd.DataFrame({"value": [ctx.params["value"]] * ctx.params["rows"]}))


def _add(ctx):
    frame = read_dataframe(ctx.inputs["table"])
    frame["value"] = frame["value"] + ctx.params["add"]
    write_dataframe(ctx.outputs["table"], frame)


SOURCE = ModuleSpec(
    id="toy-source", name="Toy Source", category="Toys", summary="Makes a one-column table.",
    description="Writes a table whose column 'value' repeats the value parameter.",
    outputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table"),),
    params=(Param("value", "int", "Value", "The value to write.", default=1),
            Param("rows", "int", "Rows", "How many rows.", default=3, min=1, max=100)),
    run=_source,
)
ADD = ModuleSpec(
    id="toy-add", name="Toy Add", category="Toys", summary="Adds a number to a table.",
    description="Adds the add parameter to the column 'value'.",
    inputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table"),),
    outputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table"),),
    params=(Param("add", "float", "Add", "The number to add.", default=1.0, min=0, min_exclusive=True),),
    run=_add,
)
EAT_IMAGES = ModuleSpec(
    id="toy-eat-images", name="Toy Eat Images", category="Toys", summary="Takes an image directory.",
    description="Counts the images of an image directory.",
    inputs=(Port("images", ports.IMAGE_DIRECTORY, "Images"),),
    outputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table"),),
    run=lambda ctx: None,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(SOURCE)
    register(ADD)
    register(EAT_IMAGES)

import pytest

from visionblocks import errors, ports
from visionblocks.runner import run_spec
from visionblocks.spec import ModuleSpec, Port


def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with ports.atomic_directory(target) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_module_publishes_no_output_and_writes_error_info(tmp_path):
    def boom(ctx):
        ports.write_meta(ctx.outputs["table"], ports.DATAFRAME_DIRECTORY)
        raise ZeroDivisionError("oops")

    spec = ModuleSpec(id="boom", name="Boom", category="C", summary="s", description="d", run=boom,
                      outputs=(Port("table", ports.DATAFRAME_DIRECTORY, "Table"),))
    with pytest.raises(ZeroDivisionError):
        run_spec(spec, {}, {}, tmp_path)
    assert not (tmp_path / "table").exists()
    info = (tmp_path / "error_info.json").read_text()
    assert '"ErrorCode": 1000' in info and "Library Error - ZeroDivisionError: oops" in info


def test_wrong_input_type_gets_designer_error(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    ports.write_meta(folder, ports.IMAGE_DIRECTORY)
    spec = ModuleSpec(id="eat", name="Eat", category="C", summary="s", description="d", run=lambda c: None,
                      inputs=(Port("model", ports.MODEL_DIRECTORY, "Trained model"),))
    with pytest.raises(errors.InvalidModelDirectoryError, match="expects a ModelDirectory.*holds a ImageDirectory"):
        run_spec(spec, {"model": folder}, {}, tmp_path / "o")


def test_output_of_wrong_type_is_refused(tmp_path):
    spec = ModuleSpec(id="liar", name="Liar", category="C", summary="s", description="d",
                      run=lambda ctx: ports.write_meta(ctx.outputs["m"], ports.IMAGE_DIRECTORY),
                      outputs=(Port("m", ports.MODEL_DIRECTORY, "Model"),))
    with pytest.raises(errors.FailedToWriteOutputsError):
        run_spec(spec, {}, {}, tmp_path)
    assert not (tmp_path / "m").exists()

"""Property-based fuzzing of the parsers that read files from outside: archives, pipeline YAML,
parameter values, and the files of every port type (``_meta.yaml``, ``images.lst``,
``_schema.json``, ``_transforms.json``, Parquet, a model directory's JSON and weights).

The property: a result or a designer-coded error (:class:`visionblocks.errors.ModuleError`),
never another exception, and nothing written outside the output folder. Budget and seed:
:mod:`fuzzing`.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzzing import budget, designer_or_result, snapshot
from visionblocks import errors, ports
from visionblocks.data import archives
from visionblocks.params import validate_params
from visionblocks.pipeline import Pipeline
from visionblocks.plugin_host import get_registry

# The fuzzer writes zip files with repeated member names on purpose; zipfile warns about each.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

# -- strategies ------------------------------------------------------------------------------------
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
# YAML can say more than JSON (NaN, dates, binary): let it, through the text strategy below.
yaml_texts = st.one_of(json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)), st.text(max_size=200))
member_names = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
    st.lists(st.sampled_from(["..", ".", "", "a", "b.png", "/", "~", "c:\\x", "d/../../e"]), min_size=1, max_size=6)
    .map("/".join),
    st.integers(200, 400).map(lambda n: "n" * n))  # longer than a file name may be
ARCHIVE_SUFFIXES = [".zip", ".tar", ".tar.gz", ".tgz", ".gz", ".bz2", ".tar.bz2"]


# -- archives --------------------------------------------------------------------------------------
def _extract_in_sandbox(write_archive) -> None:
    """Write an archive into a fresh folder, extract it into ``out/``: a designer error or files
    only under ``out/``."""
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Path(tmp)
        archive = write_archive(sandbox)
        out = sandbox / "out"
        out.mkdir()
        before = snapshot(sandbox)
        designer_or_result(archives.extract, archive, out, max_files=50, max_bytes=1 << 20)
        outside = {p for p in snapshot(sandbox) - before if not p.startswith("out")}
        assert not outside, f"written outside the output folder: {outside}"


@given(st.binary(max_size=600), st.sampled_from(ARCHIVE_SUFFIXES))
@budget()
def test_random_bytes_as_an_archive(data, suffix):
    def write(folder: Path) -> Path:
        (folder / f"upload{suffix}").write_bytes(data)
        return folder / f"upload{suffix}"

    _extract_in_sandbox(write)


@given(st.lists(st.tuples(member_names, st.binary(max_size=64)), min_size=1, max_size=5))
@budget()
def test_zip_members_stay_inside(members):
    def write(folder: Path) -> Path:
        with zipfile.ZipFile(folder / "upload.zip", "w") as zf:
            for name, data in members:
                try:
                    zf.writestr(name, data)
                except IndexError:  # zipfile itself cannot write a name that is only slashes
                    continue
        return folder / "upload.zip"

    _extract_in_sandbox(write)


_TAR_TYPES = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE]


@given(st.lists(st.tuples(member_names, st.sampled_from(_TAR_TYPES), st.binary(max_size=64), member_names),
                min_size=1, max_size=5), st.sampled_from(["w", "w:gz", "w:bz2"]))
@budget()
def test_tar_members_stay_inside(members, mode):
    def write(folder: Path) -> Path:
        path = folder / {"w": "upload.tar", "w:gz": "upload.tar.gz", "w:bz2": "upload.tar.bz2"}[mode]
        with tarfile.open(path, mode, format=tarfile.PAX_FORMAT) as tf:
            for name, kind, data, target in members:
                info = tarfile.TarInfo(name)
                info.type = kind
                info.linkname = target if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                info.size = len(data) if kind == tarfile.REGTYPE else 0
                tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        return path

    _extract_in_sandbox(write)


@given(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from([".zip", ".tar.gz"]))
@budget()
def test_damaged_archive(position, value, suffix):
    """One byte of a good archive changed, or the archive cut short."""
    buffer = io.BytesIO()
    if suffix == ".zip":
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for i in range(3):
                zf.writestr(f"class{i}/img{i}.png", bytes(range(256)) * 4)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
            for i in range(3):
                info = tarfile.TarInfo(f"class{i}/img{i}.png")
                info.size = 1024
                tf.addfile(info, io.BytesIO(bytes(range(256)) * 4))
    data = bytearray(buffer.getvalue())
    if position < len(data):
        data[position] = value
    else:
        data = data[: position % len(data)]

    def write(folder: Path) -> Path:
        (folder / f"upload{suffix}").write_bytes(bytes(data))
        return folder / f"upload{suffix}"

    _extract_in_sandbox(write)


# -- pipeline YAML ---------------------------------------------------------------------------------
MODULE_IDS = ["convert-to-image-directory", "split-image-directory", "resnet", "train-pytorch-model", "nope"]
nodes = st.fixed_dictionaries(
    {"id": st.text(max_size=8) | st.integers(), "module": st.sampled_from(MODULE_IDS) | json_values},
    optional={"params": json_values | st.dictionaries(st.sampled_from(["fraction", "model_name", "epochs", "x"]),
                                                      json_values, max_size=3),
              "inputs": json_values | st.dictionaries(st.sampled_from(["input_dataset", "x"]), json_values, max_size=2)})
pipelines = st.fixed_dictionaries(
    {"nodes": st.lists(nodes, max_size=3) | json_values},
    optional={"edges": st.lists(st.text(max_size=30) | st.sampled_from(
        ["a.output_image_directory -> b.input_image_directory", "a.x->a.y"]), max_size=3) | json_values,
              "name": json_values})


@given(pipelines)
@budget()
def test_pipeline_structures(data):
    def load_and_validate():
        pipeline = Pipeline.from_dict(data)
        return pipeline.validate()

    designer_or_result(load_and_validate)


@given(yaml_texts)
@budget()
def test_pipeline_yaml_text(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pipeline.yaml"
        path.write_text(text, encoding="utf-8")
        designer_or_result(lambda: Pipeline.load(path).validate())


# -- parameters (--param NAME=VALUE and YAML values) -----------------------------------------------
@pytest.fixture(scope="module")
def specs():
    return list(get_registry())


param_values = st.one_of(json_values, st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
                         st.sampled_from(["nan", "inf", "-inf", "1e400", "1" * 5000, " 3 ", "0x10", "True", ""]))


@given(st.data())
@budget(2)
def test_parameter_values(specs, data):
    spec = data.draw(st.sampled_from(specs))
    names = [p.name for p in spec.params] + ["no_such_parameter"]
    given_params = data.draw(st.dictionaries(st.sampled_from(names), param_values, max_size=3))
    result = designer_or_result(validate_params, spec, given_params)
    if not isinstance(result, errors.ModuleError):
        assert set(result) == {p.name for p in spec.params}


# -- the files of every port type -----------------------------------------------------------------
def _port_folder(tmp: str, files: dict[str, str | bytes]) -> Path:
    folder = Path(tmp) / "port"
    folder.mkdir()
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    return folder


json_texts = st.one_of(json_values.map(json.dumps), st.text(max_size=80))
image_records = st.fixed_dictionaries({"id": json_values | st.integers(), "image_info": json_values | st.fixed_dictionaries(
    {"file_name": json_values | st.just("a.png")})}, optional={"category": json_values})
image_lists = st.one_of(st.lists(image_records.map(json.dumps), max_size=3).map("\n".join), json_texts)
schemas = st.one_of(json_texts, st.fixed_dictionaries(
    {"categories": json_values | st.lists(st.fixed_dictionaries({"id": json_values, "name": json_values}), max_size=3)}
).map(json.dumps))


def _meta(port_type: str) -> st.SearchStrategy[str]:
    """A _meta.yaml naming ``port_type`` with random other keys, or random YAML text."""
    keys = ["image_list", "schema", "transform", "transform_mode", "materialized", "plain", "data", "model",
            "model_type", "sha256", "transforms", "transform_type", "labeled", "count"]
    extra = st.dictionaries(st.sampled_from(keys), json_values | st.sampled_from(
        ["images.lst", "_schema.json", "../outside", "/etc/hostname", "torch_state_dict", "image_transforms"]),
        max_size=5)
    return st.one_of(extra.map(lambda e: yaml.safe_dump({"type": port_type, **e}, allow_unicode=True)), yaml_texts)


@given(_meta(ports.IMAGE_DIRECTORY), image_lists, schemas, json_texts)
@budget()
def test_image_directory_files(meta, image_list, schema, transforms):
    from visionblocks.imagedir import ImageDirectory

    with tempfile.TemporaryDirectory() as tmp:
        folder = _port_folder(tmp, {ports.META_FILE: meta, "images.lst": image_list, "_schema.json": schema,
                                    ports.TRANSFORMS_FILE: transforms})
        designer_or_result(ImageDirectory.load, folder)


@given(_meta(ports.DATAFRAME_DIRECTORY), st.binary(max_size=200) | st.just(b"PAR1\x00\x00PAR1"))
@budget(0.5)
def test_dataframe_directory_files(meta, data):
    from visionblocks.dataframe import read_dataframe

    with tempfile.TemporaryDirectory() as tmp:
        folder = _port_folder(tmp, {ports.META_FILE: meta, "data.parquet": data})
        designer_or_result(read_dataframe, folder)


@given(_meta(ports.TRANSFORMATION_DIRECTORY), json_texts)
@budget()
def test_transformation_directory_files(meta, transforms):
    from visionblocks.data.transforms import read_transformation_directory

    with tempfile.TemporaryDirectory() as tmp:
        folder = _port_folder(tmp, {ports.META_FILE: meta, ports.TRANSFORMS_FILE: transforms})
        designer_or_result(read_transformation_directory, folder)


configs = st.one_of(json_texts, st.fixed_dictionaries(
    {"architecture": st.sampled_from(["resnet18", "densenet121", "vgg"]) | json_values},
    optional={"family": json_values, "pretrained": json_values, "num_classes": json_values,
              "input_size": json_values}).map(json.dumps))


@given(_meta(ports.UNTRAINED_MODEL_DIRECTORY), configs)
@budget()
def test_untrained_model_directory_files(meta, config):
    from visionblocks.learn.models import load_untrained

    with tempfile.TemporaryDirectory() as tmp:
        folder = _port_folder(tmp, {ports.META_FILE: meta, "_config.json": config})
        designer_or_result(load_untrained, folder)


@given(_meta(ports.MODEL_DIRECTORY), configs, json_texts, json_texts, st.binary(max_size=300))
@budget(0.5)
def test_model_directory_files(meta, config, classes, transforms, weights):
    from visionblocks.learn.models import load_trained

    with tempfile.TemporaryDirectory() as tmp:
        folder = _port_folder(tmp, {ports.META_FILE: meta, "_config.json": config, "_id_to_class.json": classes,
                                    ports.TRANSFORMS_FILE: transforms, "_model.pth": weights})
        designer_or_result(load_trained, folder)

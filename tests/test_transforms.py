"""Transformations: the [op, args] contract, Init Image Transformation and Apply Image Transformation."""

import json
import os

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torchvision import transforms as classic

import visionblocks as vb
from visionblocks import errors, plugin_host, ports
from visionblocks.cli import main as cli_main
from visionblocks.imagedir import ImageDirectory
from visionblocks.data.loading import ImageDataset
from visionblocks.pipeline import Pipeline
from visionblocks.data.transforms import (IMAGENET_MEAN, IMAGENET_STD, TRANSFORMS_FILE, build_transform,
                                     read_transformation_directory, write_transformation_directory)

INIT, APPLY = "init-image-transformation", "apply-image-transformation"
NORMALIZE = ["Normalize", {"mean": IMAGENET_MEAN, "std": IMAGENET_STD}]
DEFAULT_OPS = [["Resize", 256], ["CenterCrop", 224], ["RandomHorizontalFlip", {}], ["ToTensor", {}], NORMALIZE]


def photo(size=(40, 30), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8))


def init_ops(tmp_path, **params):
    result = vb.run_module(INIT, params=params, out=tmp_path / "init")
    return read_transformation_directory(result.outputs["output_image_transformation"])


@pytest.fixture(scope="module")
def converted(tmp_path_factory, digits_dir):
    out = tmp_path_factory.mktemp("converted")
    result = vb.run_module("convert-to-image-directory", inputs={"input_dataset": digits_dir}, out=out)
    return result.outputs["output_image_directory"]


def apply(tmp_path, directory, ops, mode="For training", name="applied"):
    transformation = tmp_path / f"{name}-transformation"
    transformation.mkdir()
    write_transformation_directory(transformation, ops)
    result = vb.run_module(APPLY, params={"mode": mode}, out=tmp_path / name, inputs={
        "input_image_transformation": transformation, "input_image_directory": directory})
    return ImageDirectory.load(result.outputs["output_image_directory"])


# -- build_transform ---------------------------------------------------------------------------------
def test_build_transform_gives_a_float_chw_tensor_from_pil_or_uint8():
    transform = build_transform(DEFAULT_OPS, "inference")
    out = transform(photo((300, 260)))
    assert type(out) is torch.Tensor and out.dtype == torch.float32 and out.shape == (3, 224, 224)
    tensor = torch.from_numpy(np.array(photo((300, 260)))).permute(2, 0, 1)
    assert torch.equal(transform(tensor), out)


def test_random_ops_are_the_designers_inference_list_plus_color_jitter():
    # The built-in operations come through the transforms hook, registered by the image_data plugin.
    builtin = [spec for spec in plugin_host.get_transforms() if spec.plugin == "image_data"]
    assert len(builtin) == 17
    assert {spec.name for spec in builtin if spec.random} == {"RandomResizedCrop", "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
                          "RandomRotation", "RandomAffine", "RandomGrayscale", "RandomPerspective",
                          "RandomErasing", "ColorJitter"}


def test_inference_drops_every_random_op():
    ops = [["Resize", 8], ["ColorJitter", {"brightness": 0.5}], ["RandomCrop", 6], ["RandomHorizontalFlip", {}],
           ["RandomVerticalFlip", {}], ["RandomRotation", 10], ["RandomAffine", 10], ["RandomGrayscale", {}],
           ["RandomPerspective", {}], ["RandomResizedCrop", 6], ["Grayscale", {"num_output_channels": 3}],
           ["ToTensor", {}], NORMALIZE, ["RandomErasing", {}]]
    assert [name for name, _ in build_transform(ops, "inference").ops] == ["Resize", "Grayscale", "ToTensor", "Normalize"]
    assert [name for name, _ in build_transform(ops, "training").ops] == [name for name, _ in ops]
    with pytest.raises(errors.NotInRangeValueError):
        build_transform(ops, "evaluation")


@pytest.mark.parametrize("ops, expected", [
    ([], ["ToTensor"]),
    ([["Resize", 8]], ["Resize", "ToTensor"]),
    ([["Resize", 8], NORMALIZE], ["Resize", "ToTensor", "Normalize"]),
    ([["RandomErasing", {}], NORMALIZE], ["ToTensor", "RandomErasing", "Normalize"]),
    ([["ToTensor", {}], ["ToTensor", {}], NORMALIZE], ["ToTensor", "Normalize"]),
    ([["ToTensor", {}], ["ToPILImage", {}], ["Resize", 8]], ["ToTensor", "ToPILImage", "Resize", "ToTensor"]),
])
def test_to_tensor_is_placed_where_torchvision_needs_it(ops, expected):
    transform = build_transform(ops, "training")
    assert [name for name, _ in transform.ops] == expected
    assert transform(photo()).dtype == torch.float32


@pytest.mark.parametrize("ops, reason", [
    ([["Sharpen", 2]], "unknown operation 'Sharpen'"),
    ("Resize", "expected a list"),
    ([["Resize"]], "not an \\[op, args\\] pair"),
    ([["Resize", {"size": 8, "colour": 1}]], "Resize does not accept arguments"),
    ([["CenterCrop", [1, 2, 3]]], "CenterCrop does not accept"),
    ([["FiveCrop", 8]], "several images per input"),
    ([["Grayscale", {}], NORMALIZE], "Normalize has 3 channel values but the image has 1"),
])
def test_bad_ops_are_invalid_transformation_directory(ops, reason):
    with pytest.raises(errors.InvalidTransformationDirectoryError, match=reason) as info:
        build_transform(ops, "training")
    assert info.value.code == 158


def test_same_pixels_as_torchvision_classic_transforms():
    image = photo((97, 61), seed=3)
    ours = build_transform([["Resize", 48], ["CenterCrop", 40], ["Pad", 2], NORMALIZE], "inference")(image)
    reference = classic.Compose([classic.Resize(48), classic.CenterCrop(40), classic.Pad(2), classic.ToTensor(),
                                 classic.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(image)
    assert ours.shape == reference.shape
    # Tensor resizing rounds a little differently from PIL's: at most a couple of gray levels.
    assert (ours - reference).abs().mean() < 0.01 and (ours - reference).abs().max() < 4 / 255 / 0.224
    plain = build_transform([NORMALIZE], "inference")(image)
    assert torch.allclose(plain, classic.Normalize(IMAGENET_MEAN, IMAGENET_STD)(classic.ToTensor()(image)), atol=1e-6)


def test_random_ops_draw_new_parameters_at_every_call():
    transform = build_transform([["RandomRotation", 45], ["RandomErasing", {"p": 1.0}]], "training")
    image = photo((32, 32))
    results = [transform(image) for _ in range(4)]
    assert any(not torch.equal(results[0], other) for other in results[1:])


# -- Init Image Transformation -----------------------------------------------------------------------
def test_init_defaults_match_the_designer(tmp_path):
    assert init_ops(tmp_path) == DEFAULT_OPS
    spec = vb.describe(INIT)
    # The designer's 21 parameters; Normalize and Additional operations are visionblocks' own.
    assert len([p for p in spec.params if p.name not in ("normalize", "operations")]) == 21
    defaults = {p.name: p.default for p in spec.params}
    assert defaults["size"] == 256 and defaults["crop_size"] == 224 and defaults["random_size"] == 256
    assert defaults["random_crop_size"] == 224 and defaults["random_horizontal_flip"] is True
    assert {p.name for p in spec.params if p.default is True} == {"resize", "center_crop", "random_horizontal_flip",
                                                                   "normalize"}


@pytest.mark.parametrize("params, op", [
    ({"resize": False}, None),
    ({"size": 64}, ["Resize", 64]),
    ({"center_crop": False}, None),
    ({"crop_size": 100}, ["CenterCrop", 100]),
    ({"pad": True, "padding": 4}, ["Pad", 4]),
    ({"color_jitter": True}, ["ColorJitter", {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4}]),
    ({"grayscale": True}, ["Grayscale", {"num_output_channels": 3}]),
    ({"random_resized_crop": True, "random_size": 128}, ["RandomResizedCrop", 128]),
    ({"random_crop": True, "random_crop_size": 100}, ["RandomCrop", {"size": 100, "pad_if_needed": True}]),
    ({"random_horizontal_flip": False}, None),
    ({"random_vertical_flip": True}, ["RandomVerticalFlip", {}]),
    ({"random_rotation": True, "random_rotation_degrees": 30}, ["RandomRotation", 30]),
    ({"random_affine": True, "random_affine_degrees": 180}, ["RandomAffine", 180]),
    ({"random_grayscale": True}, ["RandomGrayscale", {}]),
    ({"random_perspective": True}, ["RandomPerspective", {}]),
    ({"random_erasing": True}, ["RandomErasing", {}]),
    ({"normalize": False}, None),
])
def test_each_init_option_writes_its_op(tmp_path, params, op):
    ops = init_ops(tmp_path, **params)
    if op is None:
        removed = {"resize": "Resize", "center_crop": "CenterCrop", "random_horizontal_flip": "RandomHorizontalFlip",
                   "normalize": "Normalize"}[next(iter(params))]
        assert removed not in [name for name, _ in ops]
    else:
        assert op in ops
    build_transform(ops, "training")(photo((20, 20)))  # every combination runs, even on small images


def test_init_keeps_the_designer_order_and_erases_after_normalizing(tmp_path):
    switches = ["pad", "color_jitter", "grayscale", "random_resized_crop", "random_crop", "random_vertical_flip",
                "random_rotation", "random_affine", "random_grayscale", "random_perspective", "random_erasing"]
    ops = init_ops(tmp_path, **{name: True for name in switches})
    assert [name for name, _ in ops] == [
        "Resize", "CenterCrop", "Pad", "ColorJitter", "Grayscale", "RandomResizedCrop", "RandomCrop",
        "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "RandomAffine", "RandomGrayscale",
        "RandomPerspective", "ToTensor", "Normalize", "RandomErasing"]


def test_disabled_options_ignore_their_values(tmp_path):
    ops = init_ops(tmp_path, resize=False, size=1, pad=False, padding=7)
    assert not any(name in ("Resize", "Pad") for name, _ in ops)


@pytest.mark.parametrize("params, error", [
    ({"size": 0}, errors.GreaterThanOrEqualToError),
    ({"crop_size": 0}, errors.GreaterThanOrEqualToError),
    ({"padding": -1}, errors.GreaterThanOrEqualToError),
    ({"random_size": 0}, errors.GreaterThanOrEqualToError),
    ({"random_crop_size": -5}, errors.GreaterThanOrEqualToError),
    ({"random_rotation_degrees": 181}, errors.NotInRangeValueError),
    ({"random_affine_degrees": -1}, errors.NotInRangeValueError),
    ({"resize": "sometimes"}, errors.ParameterParsingError),
    ({"size": 2.5}, errors.ParameterParsingError),
])
def test_init_refuses_out_of_range_values(tmp_path, params, error):
    with pytest.raises(error):
        vb.run_module(INIT, params=params, out=tmp_path / "init")


def test_transformation_directory_is_readable_json(tmp_path):
    result = vb.run_module(INIT, params={"size": 32}, out=tmp_path / "init")
    folder = result.outputs["output_image_transformation"]
    assert ports.read_meta(folder) == {"type": "TransformationDirectory", "transform_type": "Image",
                                       "transforms": TRANSFORMS_FILE}
    text = (folder / TRANSFORMS_FILE).read_text()
    assert json.loads(text)[0] == ["Resize", 32] and "\n" in text


# -- Apply Image Transformation ----------------------------------------------------------------------
def test_apply_keeps_labels_ids_and_images(tmp_path, converted):
    source = ImageDirectory.load(converted)
    applied = apply(tmp_path, converted, DEFAULT_OPS)
    assert [(e.id, e.category, e.base_file_name) for e in applied.entries] == \
           [(e.id, e.category, e.base_file_name) for e in source.entries]
    assert applied.classes == source.classes and applied.transform == DEFAULT_OPS
    assert applied.transform_mode == "training" and applied.materialized == 0  # 16 px digits grow: not baked
    assert os.stat(applied.path_of(applied.entries[0])).st_ino == os.stat(source.path_of(source.entries[0])).st_ino


def test_apply_for_inference_is_deterministic_and_for_training_draws_every_epoch(tmp_path, converted):
    ops = [["Resize", 24], ["RandomRotation", 40], ["RandomErasing", {"p": 1.0}], NORMALIZE]
    training = ImageDataset(apply(tmp_path, converted, ops, "For training", "train"))
    inference = ImageDataset(apply(tmp_path, converted, ops, "For inference", "infer"))
    assert training.mode == "training" and inference.mode == "inference"
    assert torch.equal(inference[5][0], inference[5][0])
    epochs = [training[5][0] for _ in range(3)]
    assert not torch.equal(epochs[0], epochs[1]) or not torch.equal(epochs[1], epochs[2])
    assert training[5][1:] == inference[5][1:] == (0, 5)


def test_shrinking_steps_are_baked_in_and_load_identically(tmp_path):
    raw = tmp_path / "raw"
    for name in ("a", "b"):
        (raw / name).mkdir(parents=True)
        for i in range(3):
            photo((160, 120), seed=i).save(raw / name / f"{i}.jpg", quality=95)
    converted = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                              out=tmp_path / "c").outputs["output_image_directory"]
    ops = [["Resize", 40], ["CenterCrop", 32], ["RandomHorizontalFlip", {}], ["ToTensor", {}], NORMALIZE]
    baked = apply(tmp_path, converted, ops, "For inference", "baked")
    assert baked.materialized == 2 and baked.transform == ops and baked.plain
    assert (baked.entries[0].width, baked.entries[0].height) == (32, 32)
    assert baked.entries[0].file_name.endswith(".png")
    from visionblocks.data.apply import apply_transformation

    (tmp_path / "lazy").mkdir()
    lazy = apply_transformation(ImageDirectory.load(converted), ops, "inference", tmp_path / "lazy", materialize=False)
    assert lazy.materialized == 0
    for index in range(len(baked)):
        assert torch.equal(ImageDataset(baked)[index][0], ImageDataset(lazy)[index][0])


def test_apply_needs_a_mode(tmp_path, converted):
    transformation = tmp_path / "t"
    transformation.mkdir()
    write_transformation_directory(transformation, DEFAULT_OPS)
    inputs = {"input_image_transformation": transformation, "input_image_directory": converted}
    with pytest.raises(errors.NullOrEmptyError, match="For training, For inference"):
        vb.run_module(APPLY, inputs=inputs, out=tmp_path / "a")
    with pytest.raises(errors.NotInRangeValueError):
        vb.run_module(APPLY, inputs=inputs, params={"mode": "For fun"}, out=tmp_path / "b")


def _hand_written(folder, meta_extra, transforms_text):
    folder.mkdir()
    ports.write_meta(folder, ports.TRANSFORMATION_DIRECTORY, **meta_extra)
    (folder / TRANSFORMS_FILE).write_text(transforms_text)
    return folder


@pytest.mark.parametrize("case", ["image_directory", "pickle_flavour", "no_transform_type", "unknown_op",
                                  "broken_json", "missing_file"])
def test_transformation_not_from_init_is_error_0158(tmp_path, converted, case):
    folders = {
        "image_directory": lambda: converted,
        "pickle_flavour": lambda: _hand_written(tmp_path / "t", {"transform_type": "Pickle"}, "[]"),
        "no_transform_type": lambda: _hand_written(tmp_path / "t", {}, "[]"),
        "unknown_op": lambda: _hand_written(tmp_path / "t", {"transform_type": "Image"}, '[["Blur", 3]]'),
        "broken_json": lambda: _hand_written(tmp_path / "t", {"transform_type": "Image"}, '[["Resize", 3'),
        "missing_file": lambda: _hand_written(tmp_path / "t", {"transform_type": "Image", "transforms": "x.json"}, ""),
    }
    inputs = {"input_image_transformation": folders[case](), "input_image_directory": converted}
    with pytest.raises(errors.InvalidTransformationDirectoryError) as info:
        vb.run_module(APPLY, inputs=inputs, params={"mode": "For inference"}, out=tmp_path / "out")
    assert info.value.code == 158
    assert not (tmp_path / "out" / "output_image_directory").exists()


def test_hand_written_designer_transformation_is_accepted(tmp_path, converted):
    folder = _hand_written(tmp_path / "t", {"transform_type": "Image"}, json.dumps([["Resize", 20], ["Pad", 0]]))
    result = vb.run_module(APPLY, inputs={"input_image_transformation": folder, "input_image_directory": converted},
                           params={"mode": "For inference"}, out=tmp_path / "out")
    assert ImageDataset(result.outputs["output_image_directory"])[0][0].shape == (3, 20, 20)


def test_a_directory_takes_one_transformation(tmp_path, converted):
    once = apply(tmp_path, converted, DEFAULT_OPS, name="once")
    with pytest.raises(errors.InvalidDatasetError, match="already has a transformation"):
        apply(tmp_path, once.root, DEFAULT_OPS, name="twice")


# -- CLI and pipeline --------------------------------------------------------------------------------
def test_init_and_apply_run_from_the_cli(tmp_path, converted):
    assert cli_main(["module", "run", INIT, "--param", "size=20", "--param", "center_crop=false",
                     "--out", str(tmp_path / "init")]) == 0
    assert cli_main(["module", "run", APPLY, "--param", "mode=For inference",
                     "--input", f"input_image_transformation={tmp_path / 'init' / 'output_image_transformation'}",
                     "--input", f"input_image_directory={converted}", "--out", str(tmp_path / "apply")]) == 0
    assert ImageDataset(tmp_path / "apply" / "output_image_directory")[0][0].shape == (3, 20, 20)


def test_image_modules_run_as_a_pipeline(tmp_path, digits_dir):
    pipeline = {
        "name": "digits",
        "nodes": [
            {"id": "convert", "module": "convert-to-image-directory", "inputs": {"input_dataset": str(digits_dir)}},
            {"id": "split", "module": "split-image-directory", "params": {"fraction": 0.8, "random_seed": 1}},
            {"id": "init", "module": INIT, "params": {"size": 24, "crop_size": 20, "random_rotation": True,
                                                     "random_rotation_degrees": 10}},
            {"id": "train", "module": APPLY, "params": {"mode": "For training"}},
            {"id": "test", "module": APPLY, "params": {"mode": "For inference"}},
        ],
        "edges": [
            "convert.output_image_directory -> split.input_image_directory",
            "init.output_image_transformation -> train.input_image_transformation",
            "split.output_image_directory1 -> train.input_image_directory",
            "init.output_image_transformation -> test.input_image_transformation",
            "split.output_image_directory2 -> test.input_image_directory",
        ],
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    log = Pipeline.load(path).run(tmp_path / "run")
    assert {node["status"] for node in log["nodes"]} == {"ran"}
    train = ImageDataset(tmp_path / "run" / "train" / "output_image_directory")
    test = ImageDataset(tmp_path / "run" / "test" / "output_image_directory")
    assert (len(train), len(test)) == (240, 60) and train.mode == "training" and test.mode == "inference"
    assert train[0][0].shape == test[0][0].shape == (3, 20, 20)
    again = Pipeline.load(path).run(tmp_path / "run")
    assert {node["status"] for node in again["nodes"]} == {"reused"}

"""The hooks that add architectures, transform operations and commands (visionblocks.hookspecs).

A plugin registered in this process adds a tiny architecture to the ResNet family, a random
transform operation and a sub-command; the modules, the web service, the command line and the
docs pick them up from the registries, the built-ins come through the same hooks, and a name
registered twice is refused with an error naming both plugins.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import visionblocks
import visionblocks as vb
from visionblocks import cli, errors, plugin_host
from visionblocks.data.transforms import build_transform, read_transformation_directory
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.docs.pages import render_pages
from visionblocks.imagedir import ImageDirectory
from visionblocks.learn.score import Scorer
from visionblocks.params import validate_params
from visionblocks.pipeline import Pipeline
from visionblocks.registry import DuplicateNameError
from visionblocks.service.app import create_app
from visionblocks.spec import ArchitectureSpec, Param, TransformSpec, resolve

PLUGIN = "hooks_test"


def tiny_net(num_classes: int):
    """A two-layer network, no torchvision: what a plugin's builder returns."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(8, num_classes))


class Invert:
    """Inverts a uint8 image with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, image):
        return 255 - image if torch.rand(()) < self.p else image


TINY = ArchitectureSpec(name="tiny_net", family="resnet", builder=tiny_net, input_size=16, head="4")
INVERT = TransformSpec(name="RandomInvert", build=Invert, random=True,
                       params=(Param("p", "float", "Probability", "How often an image is inverted.", default=0.5,
                                     min=0, max=1),))


def _hello(args) -> int:
    print(f"hello {args.name}")
    return 0


class HooksPlugin:
    """One of each new hook, as a third-party plugin writes them."""

    @visionblocks.hookimpl
    def visionblocks_register_architectures(self, register):
        register(TINY)

    @visionblocks.hookimpl
    def visionblocks_register_transforms(self, register):
        register(INVERT)

    @visionblocks.hookimpl
    def visionblocks_register_commands(self, subparsers):
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=_hello)


class Again:
    """A second plugin that registers ``names`` of each kind once more."""

    def __init__(self, architecture="tiny_net", transform="RandomInvert", command="hello"):
        self.names = architecture, transform, command

    @visionblocks.hookimpl
    def visionblocks_register_architectures(self, register):
        if self.names[0]:
            register(ArchitectureSpec(name=self.names[0], family="other", builder=tiny_net))

    @visionblocks.hookimpl
    def visionblocks_register_transforms(self, register):
        if self.names[1]:
            register(TransformSpec(name=self.names[1], build=Invert))

    @visionblocks.hookimpl
    def visionblocks_register_commands(self, subparsers):
        if self.names[2]:
            subparsers.add_parser(self.names[2])


@pytest.fixture
def plugin():
    plugin_host.register_plugin(HooksPlugin(), name=PLUGIN)
    yield
    plugin_host.unregister_plugin(PLUGIN)


@pytest.fixture
def again():
    """Register a second plugin (given the names it repeats); unregistered afterwards."""
    def register(**names):
        plugin_host.register_plugin(Again(**names), name="again")

    yield register
    plugin_host.unregister_plugin("again")


# -- the built-ins come through the hooks -------------------------------------------------------------
def test_builtin_architectures_transforms_and_commands_come_through_the_hooks():
    listed = {p["name"]: p for p in vb.list_plugins()}
    assert listed["networks"]["architectures"][:2] == ["resnet18", "resnet34"]
    assert len(listed["networks"]["architectures"]) == 13
    assert "RandomHorizontalFlip" in listed["image_data"]["transforms"] and len(listed["image_data"]["transforms"]) == 17
    assert {"modules", "plugins", "run", "describe", "weights", "serve"} <= set(listed["commands"]["commands"])
    assert "visionblocks_register_architectures" in listed["networks"]["hooks"]
    assert "visionblocks_register_transforms" in listed["image_data"]["hooks"]
    assert listed["commands"]["hooks"] == ["visionblocks_register_commands"]


# -- architectures -----------------------------------------------------------------------------------
def test_a_plugin_architecture_joins_its_family_when_asked(plugin):
    resnet = vb.get_registry().get("resnet")
    assert "tiny_net" in resnet.param("model_name").choices  # looked up now, not when ResNet was defined
    assert validate_params(resnet, {"model_name": "tiny_net", "pretrained": False})["model_name"] == "tiny_net"
    plugin_host.unregister_plugin(PLUGIN)
    with pytest.raises(errors.NotInRangeValueError, match="tiny_net"):
        validate_params(resnet, {"model_name": "tiny_net"})


def test_resnet_page_marks_the_architecture_a_plugin_added(plugin):
    spec = vb.get_registry().get("resnet")
    pages = render_pages([spec], languages=["en", "ru"])
    assert "`tiny_net` (added by the plugin `hooks_test`)" in pages["resnet.md"]
    assert "`resnet18`, `resnet34`" in pages["resnet.md"]  # the module's own are not marked
    assert "`tiny_net` (добавлено плагином `hooks_test`)" in pages["resnet.ru.md"]


def test_plugin_architecture_trains_scores_and_is_served(plugin, tmp_path):
    """ResNet with Model name tiny_net (starting from a weights file with another head), a plugin
    operation in the training transformation, Train PyTorch Model, Score Image Model, the service."""
    torch.manual_seed(0)
    weights = tmp_path / "tiny.pth"
    torch.save(tiny_net(5).state_dict(), weights)  # "pretrained" with 5 classes; the digits have 10
    raw = write_digits(tmp_path / "raw", size=16, per_class=4)
    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw},
                           out=tmp_path / "convert").outputs["output_image_directory"]
    init = vb.run_module("init-image-transformation", out=tmp_path / "init", params={
        "resize": False, "center_crop": False, "random_horizontal_flip": False, "normalize": False,
        "operations": '[["RandomInvert", {"p": 0.5}]]'})
    training = vb.run_module("apply-image-transformation", out=tmp_path / "apply", params={"mode": "For training"},
                             inputs={"input_image_directory": images,
                                     "input_image_transformation": init.outputs["output_image_transformation"]})
    untrained = vb.run_module("resnet", out=tmp_path / "net", params={
        "model_name": "tiny_net", "pretrained": True, "weights_path": str(weights)})
    trained = vb.run_module("train-pytorch-model", out=tmp_path / "train", params={"epochs": 1, "batch_size": 8}, inputs={
        "untrained_model": untrained.outputs["untrained_model"],
        "training_dataset": training.outputs["output_image_directory"]}).outputs["trained_model"]
    config = json.loads((trained / "_config.json").read_text())
    assert config["architecture"] == "tiny_net" and config["num_classes"] == 10
    assert [name for name, _ in json.loads((trained / "_transforms.json").read_text())] == ["RandomInvert", "ToTensor"]

    scored = vb.run_module("score-image-model", out=tmp_path / "score", params={"precision": "fp32"},
                           inputs={"trained_model": trained, "dataset": images}).outputs["scored_dataset"]
    frame = read_dataframe(scored)
    assert len(frame) == 40 and set(frame["Scored Labels"]) <= {str(d) for d in range(10)}

    scorer = Scorer(trained, device="cpu", precision="fp32")
    assert [name for name, _ in scorer.transform.ops] == ["ToTensor"]  # the random operation is dropped
    directory = ImageDirectory.load(images)
    entry = directory.entries[0]
    with TestClient(create_app(scorer)) as client:
        answer = client.post("/score", content=directory.path_of(entry).read_bytes(),
                             headers={"Content-Type": "image/png"})
        metadata = client.get("/metadata").json()
    assert answer.status_code == 200, answer.text
    row = answer.json()["Results"]["WebServiceOutput0"][0]
    offline = frame.set_index("identifier").loc[entry.id]
    np.testing.assert_allclose([row[f"Scored Probabilities_{d}"] for d in range(10)],
                               [offline[f"Scored Probabilities_{d}"] for d in range(10)], atol=1e-5)
    assert metadata["architecture"] == "tiny_net"


def test_a_model_of_an_uninstalled_architecture_is_0159(plugin, tmp_path):
    from visionblocks.learn import models

    models.save_untrained(tmp_path / "net", models.untrained_config("tiny_net", pretrained=False))
    plugin_host.unregister_plugin(PLUGIN)
    with pytest.raises(errors.InvalidModelDirectoryError, match="Unknown architecture 'tiny_net'"):
        models.load_untrained(tmp_path / "net")


def test_a_model_saved_without_its_input_size_gets_its_architectures(plugin, tmp_path):
    """ArchitectureSpec.input_size is the input size of a ModelDirectory that records none (saved
    before input sizes were recorded): what export traces with and the web service reports."""
    from visionblocks.learn import models

    config = models.untrained_config("tiny_net", pretrained=False)
    models.save_trained(tmp_path / "old", models.build_model(config, 2), config, ["a", "b"], None)
    assert json.loads((tmp_path / "old" / models.CONFIG_FILE).read_text())["input_size"] is None
    assert models.load_trained(tmp_path / "old").config["input_size"] == [3, 16, 16]
    models.save_trained(tmp_path / "new", models.build_model(config, 2), {**config, "input_size": [3, 9, 9]},
                        ["a", "b"], None)
    assert models.load_trained(tmp_path / "new").config["input_size"] == [3, 9, 9]  # the recorded one wins


def test_architectures_publishing_one_file_name_keep_one_cache_entry_each(tmp_path, monkeypatch):
    """The cache is keyed by the checksum an architecture gives: two files published under the
    same name are cached apart, and a cached file is checked against the checksum on every use."""
    from visionblocks.learn import models, weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for name in weights.OFFLINE_ENVS:
        monkeypatch.delenv(name, raising=False)
    published = {}
    for seed, site in enumerate(("site-a", "site-b")):
        torch.manual_seed(seed)
        path = tmp_path / site / "net.pth"
        path.parent.mkdir()
        torch.save(tiny_net(1000).state_dict(), path)
        published[site] = path, hashlib.sha256(path.read_bytes()).hexdigest()

    class SameName:
        @visionblocks.hookimpl
        def visionblocks_register_architectures(self, register):
            for site, arch in (("site-a", "net_a"), ("site-b", "net_b")):
                path, digest = published[site]
                register(ArchitectureSpec(name=arch, family="tiny", builder=tiny_net, head="4",
                                          weights=path.as_uri(), sha256=digest))

    plugin_host.register_plugin(SameName(), name="same_name")
    try:
        built = {arch: models.build_model(models.untrained_config(arch, pretrained=True), 3)
                 for arch in ("net_a", "net_b")}
        for arch, site in (("net_a", "site-a"), ("net_b", "site-b")):
            path, digest = published[site]
            assert weights.cached_path(arch).name == f"net-{digest[:16]}.pth"
            assert weights.cached_path(arch).read_bytes() == path.read_bytes()
            assert torch.equal(built[arch][0].weight, torch.load(path, weights_only=True)["0.weight"])
        cached_b = weights.cached_path("net_b")
        cached_b.write_bytes(published["site-a"][0].read_bytes())  # changed after it was downloaded
        with pytest.raises(errors.CouldNotOpenFileError, match=f"does not start with {published['site-b'][1]}"):
            models.build_model(models.untrained_config("net_b", pretrained=True), 3)
    finally:
        plugin_host.unregister_plugin("same_name")


def test_plugin_weights_are_fetched_checked_and_their_head_replaced(tmp_path, monkeypatch):
    """An architecture publishing its weights at a URL with a SHA-256: fetched into the torch hub
    cache like torchvision's, refused when the bytes do not match."""
    from visionblocks.learn import models, weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for name in weights.OFFLINE_ENVS:
        monkeypatch.delenv(name, raising=False)
    published = tmp_path / "published" / "tiny-imagenet.pth"
    published.parent.mkdir()
    torch.save(tiny_net(1000).state_dict(), published)
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    other = published.with_name("tiny-other.pth")
    other.write_bytes(published.read_bytes())

    class Published:
        @visionblocks.hookimpl
        def visionblocks_register_architectures(self, register):
            register(ArchitectureSpec(name="tiny_good", family="tiny", builder=tiny_net, head="4",
                                      weights=published.as_uri(), sha256=digest))
            register(ArchitectureSpec(name="tiny_bad", family="tiny", builder=tiny_net, head="4",
                                      weights=other.as_uri(), sha256="0" * 64))
            register(ArchitectureSpec(name="tiny_none", family="tiny", builder=tiny_net))

    plugin_host.register_plugin(Published(), name="published")
    try:
        assert weights.architectures()[-2:] == ["tiny_good", "tiny_bad"]
        model = models.build_model(models.untrained_config("tiny_good", pretrained=True), 3)
        assert model[4].out_features == 3
        assert torch.equal(model[0].weight, torch.load(published, weights_only=True)["0.weight"])  # kept
        checkpoints = tmp_path / "torch-home" / "hub" / "checkpoints"
        # The name carries no checksum, so the cache name gets the given one.
        assert [p.name for p in checkpoints.iterdir()] == [f"tiny-imagenet-{digest[:16]}.pth"]
        with pytest.raises(errors.CouldNotOpenFileError, match="does not start with 00000000"):
            models.build_model(models.untrained_config("tiny_bad", pretrained=True), 3)
        assert [p.name for p in checkpoints.iterdir()] == [f"tiny-imagenet-{digest[:16]}.pth"]  # nothing else
        with pytest.raises(errors.CouldNotOpenFileError, match="tiny_none has no published pretrained weights"):
            models.build_model(models.untrained_config("tiny_none", pretrained=True), 3)
    finally:
        plugin_host.unregister_plugin("published")


# -- transform operations ----------------------------------------------------------------------------
def test_init_image_transformation_accepts_a_plugin_operation_and_inference_drops_it(plugin, tmp_path):
    result = vb.run_module("init-image-transformation", out=tmp_path, params={
        "resize": False, "center_crop": False, "operations": '[["RandomInvert", {"p": 1}]]'})
    ops = read_transformation_directory(result.outputs["output_image_transformation"])
    names = [name for name, _ in ops]
    assert names == ["RandomHorizontalFlip", "RandomInvert", "ToTensor", "Normalize"]
    assert ops[1] == ["RandomInvert", {"p": 1}]
    assert [name for name, _ in build_transform(ops, "inference").ops] == ["ToTensor", "Normalize"]
    image = torch.zeros(3, 4, 4, dtype=torch.uint8)
    assert torch.equal(build_transform([["RandomInvert", {"p": 1}]], "training")(image), torch.ones(3, 4, 4))


@pytest.mark.parametrize("operations, error, words", [
    ('[["RandomInvert", {"p": 2}]]', errors.NotInRangeValueError, "operation 'RandomInvert': parameter 'p' (Probability) = 2.0 is not in the range [0, 1]"),
    ('[["RandomInvert", {"q": 1}]]', errors.ParameterParsingError, "no argument 'q'"),
    ('[["RandomInvert", "often"]]', errors.ParameterParsingError, "expected float"),
    ('[["NoSuchOp", {}]]', errors.NotInRangeValueError, "not one of the registered operations"),
    ('[["Resize", {"size": "big"}]]', errors.ParameterParsingError, "Resize does not accept"),
    ('{"RandomInvert": 1}', errors.ParameterParsingError, "[name, arguments] pairs"),
    ("[[", errors.ParameterParsingError, "not JSON"),
])
def test_bad_additional_operations_are_designer_errors(plugin, tmp_path, operations, error, words):
    with pytest.raises(error) as caught:
        vb.run_module("init-image-transformation", out=tmp_path, params={"operations": operations})
    assert words in caught.value.message and "Additional operations" in caught.value.message


@pytest.mark.parametrize("operations, error, words", [
    ('[["NoSuchOp", {}]]', errors.NotInRangeValueError, "'NoSuchOp' is not one of the registered operations"),
    ('[["RandomInvert", {"q": 1}]]', errors.ParameterParsingError, "Operation 'RandomInvert' has no argument 'q'"),
    ('[["Resize", {"size": "big"}]]', errors.ParameterParsingError, "Resize does not accept"),
])
def test_bad_additional_operations_fail_the_pipeline_before_any_node_runs(plugin, tmp_path, operations, error,
                                                                            words):
    """Additional operations are checked with the other parameters (their Param.check), so the
    node that comes first never runs and no run folder is made."""
    pipeline = Pipeline.from_dict({"nodes": [
        {"id": "first", "module": "init-image-transformation"},
        {"id": "extra", "module": "init-image-transformation", "params": {"operations": operations}},
    ]})
    with pytest.raises(error) as caught:
        pipeline.validate()
    assert caught.value.message.startswith("Node 'extra': parameter 'operations' (Additional operations)")
    assert words in caught.value.message
    with pytest.raises(error):
        pipeline.run(tmp_path / "run")
    assert not (tmp_path / "run").exists()


class Sized:
    """An operation whose declared parameters cover every range the designer has a code for."""

    def __init__(self, size, scale=1.0, margin=0, angle=0, p=0.5):
        self.size = size

    def __call__(self, image):
        return image


SIZED = TransformSpec(name="Sized", build=Sized, params=(
    Param("size", "int", "Size", "h", required=True),
    Param("scale", "float", "Scale", "h", default=1.0, min=0, min_exclusive=True),
    Param("margin", "int", "Margin", "h", default=0, min=0),
    Param("angle", "int", "Angle", "h", default=0, max=180),
    Param("p", "float", "Probability", "h", default=0.5, min=0, max=1),
))


class SizedPlugin:
    @visionblocks.hookimpl
    def visionblocks_register_transforms(self, register):
        register(SIZED)


@pytest.mark.parametrize("args, code", [
    ({"size": "big"}, 2), ({}, 3), ({"size": 1, "scale": 0}, 4), ({"size": 1, "margin": -1}, 5),
    ({"size": 1, "angle": 181}, 7), ({"size": 1, "p": 2}, 8),
])
def test_init_image_transformation_documents_the_codes_of_operation_arguments(args, code):
    """Every code an operation's declared parameters can raise through Additional operations is
    in the module's documented errors (its page lists them)."""
    init = plugin_host.get_registry().get("init-image-transformation")
    plugin_host.register_plugin(SizedPlugin(), name="sized")
    try:
        with pytest.raises(errors.ModuleError) as caught:
            validate_params(init, {"operations": json.dumps([["Sized", args]])})
    finally:
        plugin_host.unregister_plugin("sized")
    assert caught.value.code == code and type(caught.value) in init.errors


def test_a_transformation_with_an_uninstalled_operation_is_0158(plugin, tmp_path):
    result = vb.run_module("init-image-transformation", out=tmp_path, params={"operations": '[["RandomInvert", {}]]'})
    plugin_host.unregister_plugin(PLUGIN)
    with pytest.raises(errors.InvalidTransformationDirectoryError, match="unknown operation 'RandomInvert'"):
        read_transformation_directory(result.outputs["output_image_transformation"])


# -- commands ----------------------------------------------------------------------------------------
def test_a_plugin_adds_a_subcommand(plugin, capsys):
    assert cli.main(["hello", "--name", "plugins"]) == 0
    assert capsys.readouterr().out == "hello plugins\n"
    mine = next(p for p in vb.list_plugins() if p["name"] == PLUGIN)
    assert mine["architectures"] == ["tiny_net"] and mine["transforms"] == ["RandomInvert"]
    assert mine["commands"] == ["hello"]
    assert cli.main(["plugins"]) == 0
    assert "  architectures=tiny_net\n  transforms=RandomInvert\n  commands=hello\n" in capsys.readouterr().out


# -- duplicates --------------------------------------------------------------------------------------
@pytest.mark.parametrize("repeated, registry, message", [
    ({"architecture": "tiny_net"}, plugin_host.get_architectures, "architecture 'tiny_net'"),
    ({"transform": "RandomInvert"}, plugin_host.get_transforms, "transform operation 'RandomInvert'"),
    ({"command": "hello"}, plugin_host.get_commands, "command 'hello'"),
])
def test_duplicate_names_are_refused_naming_both_plugins(plugin, again, repeated, registry, message):
    again(**{"architecture": None, "transform": None, "command": None, **repeated})
    with pytest.raises(DuplicateNameError) as caught:
        registry()
    assert str(caught.value) == f"{message} is registered twice: by plugin 'hooks_test' and by plugin 'again'"
    assert caught.value.plugins == ("hooks_test", "again")


def test_a_plugin_cannot_take_a_builtin_name(again):
    again(architecture="resnet18", transform="Resize", command=None)
    with pytest.raises(DuplicateNameError, match="'resnet18' is registered twice: by plugin 'networks' and by plugin 'again'"):
        plugin_host.get_architectures()
    with pytest.raises(DuplicateNameError, match="'Resize' is registered twice: by plugin 'image_data' and by plugin 'again'"):
        plugin_host.get_transforms()


def test_the_command_line_names_both_plugins_in_one_line(again, capsys):
    again(architecture=None, transform=None, command="modules")
    assert cli.main(["modules"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error 1000 LibraryException: command 'modules' is registered twice: by plugin "
                          "'commands' and by plugin 'again'") and "Traceback" not in err


def test_specs_refuse_bad_names_and_missing_heads():
    with pytest.raises(ValueError, match="lowercase"):
        ArchitectureSpec(name="Tiny Net", family="resnet", builder=tiny_net)
    with pytest.raises(ValueError, match="needs head"):
        ArchitectureSpec(name="tiny", family="resnet", builder=tiny_net, weights="https://example.org/tiny-0123abcd.pth")
    with pytest.raises(ValueError, match="package.module:function"):
        TransformSpec(name="Invert", build="not a reference")
    with pytest.raises(ValueError, match="CamelCase"):
        TransformSpec(name="random invert", build=Invert)
    with pytest.raises(ImportError, match="cannot load 'no_such_package.nets:tiny'"):
        resolve("no_such_package.nets:tiny")

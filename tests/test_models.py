"""ResNet and DenseNet modules, offline pretrained weights, model directories, precision."""

import json

import pytest
import torch
import torchvision

import visionblocks as vb
from visionblocks import errors, ports
from visionblocks.learn import models
from visionblocks.learn import precision as prec


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch hub cache: pretrained weights are found only where the test puts them."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


def _write_imagenet_weights(folder, architecture):
    """A state dict in torchvision's exact cache file name (random values: no download)."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = torchvision.models.get_model_weights(architecture).IMAGENET1K_V1
    path = folder / weights.url.rsplit("/", 1)[-1]
    state = torchvision.models.get_model(architecture, weights=None).state_dict()
    torch.save(state, path)
    return path, state


def test_resnet_module_writes_json_config_without_code(tmp_path):
    result = vb.run_module("resnet", params={"model_name": "resnet34", "pretrained": False,
                                             "zero_init_residual": True}, out=tmp_path)
    folder = result.outputs["untrained_model"]
    assert ports.port_type_of(folder) == ports.UNTRAINED_MODEL_DIRECTORY
    assert sorted(p.name for p in folder.iterdir()) == ["_config.json", "_meta.yaml"]
    assert json.loads((folder / "_config.json").read_text()) == {
        "family": "resnet", "architecture": "resnet34", "pretrained": False, "weights_path": None,
        "zero_init_residual": True, "memory_efficient": False}
    assert models.load_untrained(folder)["architecture"] == "resnet34"


def test_designer_defaults():
    resnet, densenet = vb.get_registry().get("resnet"), vb.get_registry().get("densenet")
    assert resnet.param("model_name").default == "resnext101_32x8d"
    assert densenet.param("model_name").default == "densenet201"
    assert resnet.param("pretrained").default is True and resnet.param("zero_init_residual").default is False
    assert densenet.param("memory_efficient").default is False
    # The designer's variants, registered by the built-in networks plugin through the architectures hook.
    assert tuple(resnet.param("model_name").choices) == (
        "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2")
    assert tuple(densenet.param("model_name").choices) == ("densenet121", "densenet161", "densenet169", "densenet201")
    architectures = vb.plugin_host.get_architectures()
    assert architectures.get("resnet18").plugin == architectures.get("densenet201").plugin == "networks"


@pytest.mark.parametrize("architecture, head", [("resnet18", "fc"), ("densenet121", "classifier")])
def test_build_model_sizes_the_head(architecture, head):
    model = models.build_model(models.untrained_config(architecture, pretrained=False), 7)
    assert getattr(model, head).out_features == 7
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)


def test_build_model_options_reach_torchvision():
    resnet = models.build_model(models.untrained_config("resnet18", False, zero_init_residual=True), 3)
    assert all(not block.bn2.weight.detach().any() for block in resnet.layer1)
    densenet = models.build_model(models.untrained_config("densenet121", False, memory_efficient=True), 3)
    assert densenet.features.denseblock1.denselayer1.memory_efficient


def test_pretrained_weights_come_from_the_torch_hub_cache(torch_home):
    path, state = _write_imagenet_weights(torch_home, "resnet18")
    assert path.name == "resnet18-f37072fd.pth"
    model = models.build_model(models.untrained_config("resnet18", pretrained=True), 5)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert model.fc.out_features == 5


def test_pretrained_densenet_reads_old_style_checkpoint_keys(tmp_path):
    """torchvision's cached DenseNet files name layers ``norm.1``; they still load."""
    _, state = _write_imagenet_weights(tmp_path, "densenet121")
    old = {k.replace("norm1.", "norm.1.").replace("conv2.", "conv.2."): v for k, v in state.items()
           if not k.endswith("num_batches_tracked")}  # the old files predate this buffer
    assert any(".norm.1." in k for k in old)
    path = tmp_path / "old-densenet.pth"
    torch.save(old, path)
    model = models.build_model(models.untrained_config("densenet121", True, weights_path=str(path)), 4)
    assert torch.equal(model.features.denseblock1.denselayer1.norm1.weight,
                       state["features.denseblock1.denselayer1.norm1.weight"])


def test_missing_weights_name_the_file_to_put_where(torch_home, tmp_path):
    with pytest.raises(errors.CouldNotOpenFileError) as caught:
        vb.run_module("resnet", params={"model_name": "resnet50"}, out=tmp_path / "run")
    text = caught.value.one_line()
    assert str(torch_home / "resnet50-0676ba61.pth") in text
    assert "downloads are off (VISIONBLOCKS_OFFLINE=1)" in text  # tests/conftest.py turns them off
    info = json.loads((tmp_path / "run" / "error_info.json").read_text())
    assert info["Exception"]["ErrorCode"] == 48
    assert not (tmp_path / "run" / "untrained_model").exists()


def test_weights_path_parameter(tmp_path, torch_home):
    path, state = _write_imagenet_weights(tmp_path / "mine", "densenet121")
    result = vb.run_module("densenet", params={"model_name": "densenet121", "weights_path": str(path)},
                           out=tmp_path / "run")
    config = models.load_untrained(result.outputs["untrained_model"])
    model = models.build_model(config, 3)
    assert torch.equal(model.features.conv0.weight, state["features.conv0.weight"])
    with pytest.raises(errors.CouldNotOpenFileError, match="does not exist"):
        vb.run_module("densenet", params={"model_name": "densenet121", "weights_path": str(tmp_path / "no.pth")},
                      out=tmp_path / "run2")


# -- ModelDirectory ---------------------------------------------------------------------------

@pytest.fixture
def trained_dir(tmp_path):
    config = {**models.untrained_config("resnet18", False), "input_size": [3, 16, 16]}
    torch.manual_seed(0)
    model = models.build_model(config, 3)
    folder = tmp_path / "model"
    models.save_trained(folder, model, config, ["cat", "dog", "emu"], [["Resize", 16], ["ToTensor", {}]])
    return folder, model


def test_model_directory_round_trip(trained_dir):
    folder, model = trained_dir
    meta = ports.read_meta(folder)
    assert meta["type"] == ports.MODEL_DIRECTORY and meta["model_type"] == "torch_state_dict"
    loaded = models.load_trained(folder)
    assert loaded.classes == ["cat", "dog", "emu"]
    assert loaded.transform == [["Resize", 16], ["ToTensor", {}]]
    assert loaded.config["num_classes"] == 3 and loaded.config["input_size"] == [3, 16, 16]
    assert not loaded.model.training
    x = torch.rand(2, 3, 16, 16)
    model.eval()
    assert torch.equal(loaded.model(x), model(x))


def test_the_weights_file_is_read_once_and_what_was_checked_is_loaded(trained_dir, monkeypatch):
    """The SHA-256 is computed on the bytes that are loaded: one read of ``_model.pth``, so the
    file cannot change between the check and the load."""
    import builtins
    import io

    folder, model = trained_dir
    real_open, opened = io.open, []

    def counting_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(io, "open", counting_open)
    loaded = models.load_trained(folder)
    monkeypatch.undo()
    assert [path for path in opened if path.endswith("_model.pth")] == [str(folder / "_model.pth")]
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in model.state_dict().items())


def _forget_checksums(folder):
    """Drop the recorded SHA-256 sums, as in a directory written before they were recorded or by
    the designer's prototypes, so that the checks behind them are reached."""
    meta = ports.read_meta(folder)
    del meta["sha256"]
    ports.write_meta(folder, meta.pop("type"), **meta)


def test_class_names_as_id_map(trained_dir):
    folder, _ = trained_dir
    (folder / "_id_to_class.json").write_text(json.dumps({"2": "emu", "0": "cat", "1": "dog"}))
    _forget_checksums(folder)
    assert models.load_trained(folder).classes == ["cat", "dog", "emu"]


def test_not_a_model_directory(tmp_path):
    untrained = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False}, out=tmp_path)
    with pytest.raises(errors.InvalidModelDirectoryError, match="expects a ModelDirectory"):
        models.load_trained(untrained.outputs["untrained_model"])


def test_legacy_pickle_model_is_refused(tmp_path):
    ports.write_meta(tmp_path, ports.MODEL_DIRECTORY, model_type="pickle", model="model.pkl")
    with pytest.raises(errors.InvalidModelDirectoryError, match="legacy pickled models") as caught:
        models.load_trained(tmp_path)
    assert caught.value.code == 159


def test_pickled_module_is_never_loaded(trained_dir):
    folder, model = trained_dir
    torch.save(model, folder / "_model.pth")  # a whole pickled nn.Module, not a state dict
    _forget_checksums(folder)
    with pytest.raises(errors.InvalidModelDirectoryError, match="never runs code from a model file") as caught:
        models.load_trained(folder)
    assert "weights_only" not in caught.value.one_line()  # never torch's advice to unpickle it


def test_weights_that_do_not_fit(trained_dir):
    folder, _ = trained_dir
    (folder / "_id_to_class.json").write_text(json.dumps(["a", "b"]))
    _forget_checksums(folder)
    with pytest.raises(errors.InvalidModelDirectoryError, match="do not fit resnet18 with 2 classes"):
        models.load_trained(folder)


# -- precision ------------------------------------------------------------------------------

def test_auto_precision_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: False)
    assert prec.resolve_precision("auto", "cpu").name == "fp32"
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: True)
    assert prec.resolve_precision("auto", "cpu").name == "bf16"
    monkeypatch.setattr(prec, "cuda_has_native_bf16", lambda device: False)
    assert prec.resolve_precision("auto", "cuda").name == "fp32"
    monkeypatch.setattr(prec, "cuda_has_native_bf16", lambda device: True)
    assert prec.resolve_precision("auto", "cuda").dtype == torch.bfloat16


def test_auto_training_precision_keeps_small_images_in_fp32_on_a_cpu(monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: True)
    assert prec.resolve_training_precision("auto", "cpu", 32 * 32).name == "fp32"
    assert prec.resolve_training_precision("auto", "cpu", 64 * 64).name == "bf16"
    assert prec.resolve_training_precision("bf16", "cpu", 32 * 32).name == "bf16"  # asked for: obeyed
    monkeypatch.setattr(prec, "cuda_has_native_bf16", lambda device: True)
    assert prec.resolve_training_precision("auto", "cuda", 32 * 32).name == "bf16"  # the rule is the CPU's


def test_training_memory_layout():
    bf16, fp32 = prec.resolve_precision("bf16", "cpu"), prec.resolve_precision("fp32", "cpu")
    assert prec.memory_format("cpu", bf16, 32 * 32) == torch.channels_last
    assert prec.memory_format("cpu", fp32, 32 * 32) == torch.contiguous_format
    assert prec.memory_format("cpu", fp32, 224 * 224) == torch.channels_last
    assert prec.memory_format("cuda", fp32, 32 * 32) == torch.channels_last


def test_explicit_precisions():
    assert prec.resolve_precision("fp32", "cpu").dtype is None
    assert prec.resolve_precision("bf16", "cpu").dtype == torch.bfloat16
    assert prec.resolve_precision("fp16", "cuda").needs_grad_scaler
    with pytest.raises(errors.NotInRangeValueError, match="needs a CUDA GPU"):
        prec.resolve_precision("fp16", "cpu")


# /proc/cpuinfo of the CPUs the project has run on, cut to what the detection reads.
AVX2_ONLY_CPUINFO = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
AVX512_BF16_CPUINFO = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"
AMX_CPUINFO = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu avx2 avx512f amx_tile amx_bf16\n"
# A "bf16" word elsewhere than in the flags line (here: a bug list) must not count.
BF16_ONLY_IN_BUGS_CPUINFO = "processor\t: 0\nflags\t\t: fpu avx2\nbugs\t\t: amx_bf16 avx512_bf16\n"


@pytest.fixture
def fake_cpuinfo(monkeypatch):
    """Make precision.py read the given text as /proc/cpuinfo (None: the file cannot be read)."""
    import io

    def install(text):
        def fake_open(path, *args, **kwargs):
            assert path == "/proc/cpuinfo"
            if text is None:
                raise FileNotFoundError(path)
            return io.StringIO(text)

        monkeypatch.setattr(prec, "open", fake_open, raising=False)  # shadows the builtin in that module
        prec.cpu_has_native_bf16.cache_clear()

    yield install
    prec.cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize("cpuinfo, native, auto", [
    (AVX2_ONLY_CPUINFO, False, "fp32"),
    (AVX512_BF16_CPUINFO, True, "bf16"),
    (AMX_CPUINFO, True, "bf16"),
    (BF16_ONLY_IN_BUGS_CPUINFO, False, "fp32"),
    (None, False, "fp32"),  # no /proc/cpuinfo (macOS, Windows)
])
def test_cpu_bf16_detection_and_auto_on_each_kind_of_cpu(fake_cpuinfo, cpuinfo, native, auto):
    fake_cpuinfo(cpuinfo)
    assert prec.cpu_has_native_bf16() is native
    assert prec.resolve_precision("auto", "cpu").name == auto
    assert prec.resolve_training_precision("auto", "cpu", 64 * 64).name == auto
    assert prec.resolve_training_precision("auto", "cpu", 32 * 32).name == "fp32"  # small images: fp32 anyway
    assert prec.resolve_precision("bf16", "cpu").name == "bf16"  # asked for: obeyed on every CPU


def test_bf16_autocast_on_cpu():
    model = models.build_model(models.untrained_config("resnet18", False), 3)
    with prec.autocast("cpu", prec.resolve_precision("bf16", "cpu")):
        out = model(torch.rand(2, 3, 16, 16))
    assert out.dtype == torch.bfloat16


# -- CPU convolution kernels ----------------------------------------------------------------

def test_gemm_weight_gradient_matches_torch():
    from visionblocks.learn.conv_kernels import GemmGradConv2d, use_gemm_weight_gradient

    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1, bias=True),
                                    torch.nn.Conv2d(16, 4, 3, stride=2, padding=1, bias=False))
    fast = torch.nn.Sequential(*(torch.nn.Conv2d(m.in_channels, m.out_channels, 3, m.stride, 1, bias=m.bias is not None)
                                 for m in reference))
    fast.load_state_dict(reference.state_dict())
    assert use_gemm_weight_gradient(fast) == 2 and isinstance(fast[0], GemmGradConv2d)
    assert fast.state_dict().keys() == reference.state_dict().keys()
    x = torch.randn(3, 8, 2, 2, requires_grad=True)  # outputs of 2x2 and 1x1 pixels: the GEMM path
    reference(x).square().sum().backward()
    grad_x = x.grad.clone()
    x.grad = None
    fast(x).square().sum().backward()
    torch.testing.assert_close(x.grad, grad_x)
    for mine, theirs in zip(fast.parameters(), reference.parameters()):
        torch.testing.assert_close(mine.grad, theirs.grad)

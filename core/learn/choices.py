"""The choices a user picks from for models and precision, without importing torch.

Module metadata (the plugins), the CLI and the engine all read these, so listing
``visionblocks modules`` or a parameter's allowed values never loads torch. Architectures are
not a fixed list: plugins register them (the built-in ``networks`` plugin the ResNet and
DenseNet ones) through ``visionblocks_register_architectures``, and the views below look the
architecture registry up each time they are read.
"""

from visionblocks.spec import DynamicChoices


def architecture_choices(family: str | None = None) -> DynamicChoices:
    """The names of the registered architectures of ``family`` (every family when None), in
    registration order, as an enum parameter's choices: read when asked, so an architecture a
    plugin registers appears in the ResNet module's Model name without the module knowing it."""
    from visionblocks import plugin_host

    def names() -> list[str]:
        registry = plugin_host.get_architectures()
        return [spec.name for spec in registry if family is None or spec.family == family]

    def added_by(name: str) -> str:
        registry = plugin_host.get_architectures()
        return registry.get(name).plugin if name in registry else ""

    return DynamicChoices(names, added_by, describe=f"architectures of family {family}" if family else "architectures")


# Every registered architecture, whatever its family (``visionblocks weights``' ARCH).
ARCHITECTURES = architecture_choices()

# auto = bf16 where the hardware runs it natively, else fp32 (see visionblocks.learn.precision).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Train Linear Image Classifier's models (see visionblocks.learn.linear).
LINEAR_CLASSIFIERS = ("logistic_regression", "linear_svm")

# What runs a trained model when scoring: PyTorch, or onnxruntime on its ONNX export (visionblocks.learn.onnx_runtime).
RUNTIMES = ("torch", "onnx")
# What `visionblocks export` writes (visionblocks.learn.export).
EXPORT_FORMATS = ("onnx",)

# Images per batch when scoring: Score Image Model's default, also `visionblocks score`'s.
DEFAULT_BATCH_SIZE = 64

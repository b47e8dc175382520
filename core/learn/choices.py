"""The choices a user picks from for models and precision, without importing torch.

Module metadata (the plugins), the CLI and the engine all read these tuples, so listing
``visionblocks modules`` or a parameter's allowed values never loads torch.
"""

RESNET_ARCHITECTURES = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2",
)
DENSENET_ARCHITECTURES = ("densenet121", "densenet161", "densenet169", "densenet201")
FAMILIES = {"resnet": RESNET_ARCHITECTURES, "densenet": DENSENET_ARCHITECTURES}
ARCHITECTURES = tuple(name for names in FAMILIES.values() for name in names)

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

"""Built-in plugin: the image data modules (Computer Vision / Image Data Transformation)."""

from __future__ import annotations

import visionblocks
from visionblocks import errors, ports
from visionblocks.spec import ModuleSpec, Param, Port

CATEGORY = "Computer Vision / Image Data Transformation"


def run_split(ctx) -> None:
    import shutil

    import numpy as np

    from visionblocks.imagedir import ImageDirectory

    source = ImageDirectory.load(ctx.inputs["input_image_directory"])
    if not source.entries:
        raise errors.TooFewRowsInDatasetError("The input image directory holds no image.")
    fraction, seed = ctx.params["fraction"], ctx.params["random_seed"]
    rng = np.random.default_rng(seed)
    indices = np.arange(len(source.entries))
    if ctx.params["stratified"] and source.labeled:
        first: list[int] = []
        targets = np.asarray(source.targets())
        for cls in np.unique(targets):
            members = rng.permutation(indices[targets == cls])
            first.extend(members[: int(len(members) * fraction)].tolist())
        # Per-class floors can leave the total short of floor(n * fraction); top it up at random.
        want = int(len(indices) * fraction)
        rest = rng.permutation(np.setdiff1d(indices, first))
        first.extend(rest[: max(0, want - len(first))].tolist())
    else:
        first = rng.permutation(indices)[: int(len(indices) * fraction)].tolist()
    chosen = set(first)
    groups = {"output_image_directory1": [e for i, e in enumerate(source.entries) if i in chosen],
              "output_image_directory2": [e for i, e in enumerate(source.entries) if i not in chosen]}
    for port, entries in groups.items():
        out = ctx.outputs[port]
        for entry in entries:
            target = out / entry.file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                target.hardlink_to(source.path_of(entry))  # same bytes, no copy when on one disk
            except OSError:
                shutil.copy2(source.path_of(entry), target)
        if source.transform is not None:
            ImageDirectory.write(out, entries, source.classes, source.transform, source.transform_mode)
        else:
            ImageDirectory.write(out, entries, source.classes)
        ctx.progress.log(f"{port}: {len(entries)} images")


SPLIT = ModuleSpec(
    id="split-image-directory",
    name="Split Image Directory",
    category=CATEGORY,
    summary="Divides the images of an image directory into two sets, for example for training and testing.",
    description=(
        "Split Image Directory puts a given fraction of the images into its first output and all "
        "other images into its second output. The split is random but repeatable: the same random "
        "seed gives the same split. With stratified splitting on, each class keeps its share in "
        "both outputs."
    ),
    steps=(
        "Add the Split Image Directory module to your pipeline and connect an image directory to it.",
        "Set Fraction of images in the first output, for example 0.9 to keep 90 % of the images for training.",
        "Optionally set the random seed and whether the split is stratified by class.",
        "Run the pipeline. Connect the first output to training and the second to scoring or validation.",
    ),
    inputs=(Port("input_image_directory", ports.IMAGE_DIRECTORY, "Input image directory",
                 "The images to split, labeled or not."),),
    outputs=(
        Port("output_image_directory1", ports.IMAGE_DIRECTORY, "Output image directory1",
             "The selected fraction of the images."),
        Port("output_image_directory2", ports.IMAGE_DIRECTORY, "Output image directory2",
             "All other images."),
    ),
    params=(
        Param("fraction", "float", "Fraction of images in the first output",
              "Share of images that go to the first output; a non-integer count is rounded down.",
              default=0.9, min=0.0, max=1.0, required=True),
        Param("random_seed", "int", "Random seed", "Seed of the random split; the same seed gives the same split.",
              default=0),
        Param("stratified", "bool", "Stratified split",
              "Keep each class's share of images in both outputs (labeled directories only).", default=True),
    ),
    errors=(errors.NullOrEmptyError, errors.NotInRangeValueError, errors.ParameterParsingError,
            errors.TooFewRowsInDatasetError, errors.InvalidDatasetError),
    related=("convert-to-image-directory", "apply-image-transformation", "train-pytorch-model"),
    notes=(
        "The designer does not document whether its split is random or stratified; visionblocks adds "
        "a random seed and stratification (on by default).",
    ),
    run=run_split,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    register(SPLIT)

"""Built-in plugin: the image data modules (Computer Vision / Image Data Transformation).

Convert to Image Directory, Init Image Transformation, Apply Image Transformation and Split
Image Directory. The work happens in ``visionblocks.data.convert``, ``visionblocks.data.transforms``,
``visionblocks.data.apply`` and ``visionblocks.data.split``; this file holds what users read about them.
"""

from __future__ import annotations

import visionblocks
from visionblocks import errors, ports
from visionblocks.data.archives import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES
from visionblocks.images import DEFAULT_MAX_PIXELS, HARD_MAX_PIXELS
from visionblocks.units import MIB
from visionblocks.spec import ModuleSpec, Param, Port

CATEGORY = "Computer Vision / Image Data Transformation"
MODE_CHOICES = {"For training": "training", "For inference": "inference"}



# -- Convert to Image Directory ---------------------------------------------------------------------
def run_convert(ctx) -> None:
    from visionblocks.data.convert import convert

    p = ctx.params
    convert(ctx.inputs["input_dataset"], ctx.outputs["output_image_directory"], strict=p["strict"],
            max_pixels=p["max_pixels"], max_files=p["max_archive_files"],
            max_bytes=p["max_unpacked_mb"] * MIB, progress=ctx.progress)


_CONVERT_EXAMPLE = '''Convert a folder with one sub-folder per class (here 5 images of each handwritten digit):

```python
>>> import pandas as pd
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> from visionblocks.imagedir import ImageDirectory
>>> raw = write_digits("digits", size=16, per_class=5)
>>> result = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out="runs/convert")
>>> images = ImageDirectory.load(result.outputs["output_image_directory"])
>>> len(images), images.classes
(50, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
>>> print(pd.DataFrame(images.entries[:3]).to_string(index=False))
 id     file_name category  width  height mode base_file_name
  0 image/0_0.png        0     16      16    L     0/0000.png
  1 image/0_1.png        0     16      16    L     0/0010.png
  2 image/0_2.png        0     16      16    L     0/0020.png

```
'''

CONVERT = ModuleSpec(
    id="convert-to-image-directory",
    name="Convert to Image Directory",
    category=CATEGORY,
    summary="Turns a folder or an archive of images into an image directory that the other image modules read.",
    description=(
        "Convert to Image Directory reads images from a folder or from an archive (zip, tar, tar.gz, tgz, gz, bz2 or tar.bz2) and writes "
        "them as an image directory: the image files, a list of the images with their labels, and a schema.\n\n"
        "When the input holds one sub-folder per class, for example `cats/` and `dogs/`, each sub-folder name "
        "becomes a label and the images are labeled, ready for training. Class ids follow the alphabetical order "
        "of the folder names, exactly as torchvision's ImageFolder assigns them. When the input holds images "
        "without class folders, the images are unlabeled, ready for scoring.\n\n"
        "Every image is checked by decoding it completely, and is seen in RGB by the same conversion that Score "
        "Image Model and the web service use. Files that are not valid images are skipped and listed, with the "
        "reason, in the quarantine report `_quarantine.json` of the output. The module prints a table with the id, "
        "name and number of images of every class."
    ),
    steps=(
        "Put your images in a folder, with one sub-folder per class for training (for example `pets/cats/1.jpg` "
        "and `pets/dogs/2.jpg`), or all in one folder for scoring. You can also pack the folder as a zip, tar, "
        "tar.gz or tar.bz2 archive.",
        "Add the Convert to Image Directory module to your pipeline and connect the folder or archive to its "
        "**Input dataset** port.",
        "Optionally turn **Strict** on to stop with an error when any file is not a valid image, instead of "
        "skipping it.",
        "Run the pipeline. Check the class table in the log and the quarantine report `_quarantine.json` in the "
        "output for skipped files.",
        "Connect the output to Apply Image Transformation, Split Image Directory or Score Image Model.",
    ),
    inputs=(Port("input_dataset", ports.ANY_DIRECTORY, "Input dataset",
                 "A folder of images, or an archive file of one: zip, tar, tar.gz, tgz, gz, bz2 or tar.bz2."),),
    outputs=(Port("output_image_directory", ports.IMAGE_DIRECTORY, "Output image directory",
                  "The valid images, their labels when the input had class folders, and the quarantine report."),),
    params=(
        Param("strict", "bool", "Strict",
              "Stop with an error when any file is not a valid image, instead of skipping it and listing it in "
              "the quarantine report. Files whose names start with a dot are ignored either way.", default=False),
        Param("max_pixels", "int", "Maximum pixels per image",
              "Largest image accepted, in pixels (width times height). A larger image stops the conversion with "
              "an error, because decoding it could exhaust the memory.",
              default=DEFAULT_MAX_PIXELS, min=1, max=HARD_MAX_PIXELS),
        Param("max_archive_files", "int", "Maximum files in an archive",
              "Largest number of entries an input archive may hold. A larger archive is refused before anything "
              "is written.", default=DEFAULT_MAX_FILES, min=1),
        Param("max_unpacked_mb", "int", "Maximum unpacked archive size (MB)",
              "Largest total size, in megabytes, that an input archive may unpack to. Unpacking stops with an "
              "error as soon as it passes this size, so a small archive that expands enormously cannot fill "
              "the disk.", default=DEFAULT_MAX_BYTES // MIB, min=1),
    ),
    errors=(errors.NullOrEmptyError, errors.ParameterParsingError, errors.NotInRangeValueError,
            errors.GreaterThanOrEqualToError, errors.InvalidDatasetError, errors.TooFewRowsInDatasetError,
            errors.FileParsingFailedError, errors.InvalidZipFileError, errors.ImageExceedsLimitError),
    related=("init-image-transformation", "apply-image-transformation", "split-image-directory",
             "score-image-model"),
    examples=(_CONVERT_EXAMPLE,),
    sections=(
        ("Which files become images",
         "A sub-folder directly inside the input is a class, and every image below it, at any depth, belongs "
         "to that class, as in torchvision's ImageFolder. Images directly inside the input are then outside "
         "any class and are skipped. When there is no class folder, or no class folder holds a valid image, "
         "every image in the input is read, unlabeled.\n\n"
         "A file is an image when its extension is `.jpg`, `.jpeg`, `.png`, `.ppm`, `.bmp`, `.pgm`, `.tif`, "
         "`.tiff` or `.webp`, in any letter case, and it decodes completely. Files and folders whose names "
         "start with a dot, such as `.DS_Store` and `.ipynb_checkpoints`, are ignored and never become "
         "classes. A class folder without any valid image is kept, with a warning, so that class ids stay "
         "the same as ImageFolder's. When an archive holds a single folder, as zipping a folder does, that "
         "folder is read as the input. The macOS `__MACOSX` folder of an archive is not extracted."),
        ("How every image becomes RGB",
         "EXIF orientation is applied first, so a photo taken sideways is seen upright. Transparent images "
         "(RGBA, gray with alpha, palettes with a transparent color) are composited on white. Gray images are "
         "copied to the red, green and blue channels. 16-bit and 32-bit gray images are scaled by their real "
         "bit depth, so that their brightest possible value becomes 255, instead of being clipped at 255. "
         "CMYK and YCCK images are converted to RGB. The original color mode of every image is recorded in "
         "the image list.\n\n"
         "Images that are already 8-bit RGB or gray PNG or JPEG files without a rotation are stored byte for "
         "byte; every other image is stored as its RGB conversion in PNG."),
        ("Hostile input",
         "An archive is refused, with error 0102 and nothing written, when an entry would be written outside "
         "the output (a path with `..` or an absolute path), when an entry is a link or a device, when an "
         "entry is encrypted, when the archive holds more entries or unpacks to more bytes than the limits "
         "allow, or when it is corrupt. An image larger than **Maximum pixels per image** stops the conversion "
         "with error 0127. An input without any file is error 0003; an input without any valid image is "
         "error 0021."),
    ),
    notes=(
        "The designer has no parameters for this module. visionblocks adds **Strict**, the pixel limit and the "
        "archive limits, the quarantine report and the class table.",
        "The designer skips files in folders deeper than the class folders; visionblocks keeps them in their "
        "class, as torchvision's ImageFolder does, so both give the same classes and images.",
        "The designer accepts truncated images; visionblocks skips them and lists them in the quarantine "
        "report, because the missing part would be learned as gray.",
    ),
    run=run_convert,
)


# -- Init Image Transformation ----------------------------------------------------------------------
def run_init(ctx) -> None:
    from visionblocks.data.transforms import designer_ops, write_transformation_directory

    ops = write_transformation_directory(ctx.outputs["output_image_transformation"], designer_ops(ctx.params))
    ctx.progress.log("transformation: " + ", ".join(name for name, _ in ops))


def check_operations(text: str) -> None:
    """Additional operations' own check, run when parameters are validated (before any node of a
    pipeline runs): the JSON must name registered operations with arguments they accept. Torch is
    imported only when there is something to check."""
    if text.strip():
        from visionblocks.data.transforms import parse_operations

        parse_operations(text)


def _switch(name: str, label: str, help: str, default: bool = False) -> Param:
    return Param(name, "bool", label, help, default=default)


_INIT_EXAMPLE = '''Resize images to 32 pixels, without center crop, and look at the operations written:

```python
>>> import visionblocks as vb
>>> from visionblocks.data.transforms import read_transformation_directory
>>> params = {"size": 32, "center_crop": False}
>>> result = vb.run_module("init-image-transformation", params=params, out="runs/transformation")
>>> for name, args in read_transformation_directory(result.outputs["output_image_transformation"]):
...     print(name, args)
Resize 32
RandomHorizontalFlip {}
ToTensor {}
Normalize {'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]}

```
'''

INIT = ModuleSpec(
    id="init-image-transformation",
    name="Init Image Transformation",
    category=CATEGORY,
    summary="Defines the resizing, cropping and augmentation steps applied to images before a model sees them.",
    description=(
        "Init Image Transformation writes an ordered list of image operations, such as resizing, cropping, "
        "flipping and normalizing, as a transformation directory. It does not read any image: connect its "
        "output to Apply Image Transformation, which attaches the transformation to an image directory.\n\n"
        "Each operation is switched on or off by a parameter, and runs in the order of the parameters. "
        "**Color jitter** and the operations whose names start with Random are augmentations: they change every image differently each "
        "time it is loaded, which helps a model generalize. Apply Image Transformation leaves them out when "
        "its **Mode** is **For inference**. The list is stored as readable JSON in `_transforms.json`, with the "
        "torchvision name and arguments of each operation."
    ),
    steps=(
        "Add the Init Image Transformation module to your pipeline.",
        "Keep **Resize** and **Center crop** on to give every image the same size: by default the shorter side is "
        "resized to 256 pixels and the center 224 by 224 pixels are kept, the input size of ResNet and DenseNet.",
        "Switch on the augmentations you want for training, such as **Random horizontal flip** (on by default), "
        "**Random rotation** or **Color jitter**, and set their values.",
        "Keep **Normalize** on when the model starts from ImageNet weights.",
        "Connect the output to the **Input image transformation** port of Apply Image Transformation; use one "
        "Apply Image Transformation **For training** and one **For inference**.",
    ),
    outputs=(Port("output_image_transformation", ports.TRANSFORMATION_DIRECTORY, "Output image transformation",
                  "The ordered list of operations, to connect to Apply Image Transformation."),),
    params=(
        _switch("resize", "Resize", "Scale each image so that its shorter side has **Size** pixels, keeping its "
                "proportions.", default=True),
        Param("size", "int", "Size", "Length in pixels of the shorter side after resizing.", default=256, min=1,
              enabled_by="resize"),
        _switch("center_crop", "Center crop", "Keep a square of **Crop size** pixels from the center of each image.",
                default=True),
        Param("crop_size", "int", "Crop size", "Width and height in pixels of the center crop.", default=224, min=1,
              enabled_by="center_crop"),
        _switch("pad", "Pad", "Add a black border of **Padding** pixels on every side of each image."),
        Param("padding", "int", "Padding", "Number of pixels added on each side.", default=0, min=0, enabled_by="pad"),
        _switch("color_jitter", "Color jitter", "Randomly change brightness, contrast and saturation, each by up to "
                "40 percent."),
        _switch("grayscale", "Grayscale", "Convert each image to gray, kept in three channels so that any model "
                "can read it."),
        _switch("random_resized_crop", "Random resized crop", "Crop a random part of each image, covering 8 to "
                "100 percent of its area with a random aspect ratio between 3/4 and 4/3, and resize it to **Random "
                "size** pixels."),
        Param("random_size", "int", "Random size", "Width and height in pixels of the random resized crop.",
              default=256, min=1, enabled_by="random_resized_crop"),
        _switch("random_crop", "Random crop", "Crop a square of **Random crop size** pixels at a random position; "
                "smaller images are padded first."),
        Param("random_crop_size", "int", "Random crop size", "Width and height in pixels of the random crop.",
              default=224, min=1, enabled_by="random_crop"),
        _switch("random_horizontal_flip", "Random horizontal flip", "Mirror each image left to right with a "
                "probability of one half.", default=True),
        _switch("random_vertical_flip", "Random vertical flip", "Mirror each image upside down with a probability "
                "of one half."),
        _switch("random_rotation", "Random rotation", "Rotate each image by a random angle between minus and plus "
                "the value of **Random rotation degrees**."),
        Param("random_rotation_degrees", "int", "Random rotation degrees", "Largest rotation angle, in degrees.",
              default=0, min=0, max=180, enabled_by="random_rotation"),
        _switch("random_affine", "Random affine", "Rotate each image around its center by a random angle between "
                "minus and plus the value of **Random affine degrees**."),
        Param("random_affine_degrees", "int", "Random affine degrees", "Largest angle of the random affine "
              "transformation, in degrees.", default=0, min=0, max=180, enabled_by="random_affine"),
        _switch("random_grayscale", "Random grayscale", "Convert each image to gray with a probability of one "
                "tenth."),
        _switch("random_perspective", "Random perspective", "Distort the perspective of each image with a "
                "probability of one half."),
        _switch("random_erasing", "Random erasing", "Erase a random rectangle of each image with a probability of "
                "one half."),
        _switch("normalize", "Normalize", "Subtract the ImageNet mean and divide by the ImageNet standard "
                "deviation of each color channel, as pretrained models expect.", default=True),
        Param("operations", "string", "Additional operations",
              "Further operations, such as those a plugin adds, as a JSON list of [name, arguments] pairs, for "
              "example `[[\"RandomInvert\", {\"p\": 0.2}]]`. They run after the operations switched on above and "
              "before **Normalize**. Run `visionblocks plugins` to see every operation.", default="",
              check=check_operations),
    ),
    # 0003, 0004 and 0007 come from the declared parameters of an operation in Additional operations.
    errors=(errors.ParameterParsingError, errors.NullOrEmptyError, errors.GreaterThanError,
            errors.GreaterThanOrEqualToError, errors.LessThanOrEqualToError, errors.NotInRangeValueError),
    related=("apply-image-transformation", "convert-to-image-directory", "train-pytorch-model"),
    examples=(_INIT_EXAMPLE,),
    notes=(
        "visionblocks adds **Normalize**, with the ImageNet statistics that the designer's serialized "
        "transformations use, and writes To Tensor explicitly before it.",
        "The designer writes **Color jitter** and **Grayscale** with torchvision's defaults: its **Color jitter** then "
        "changes nothing and its **Grayscale** gives a one-channel image that RGB models cannot read. visionblocks "
        "jitters brightness, contrast and saturation by up to 40 percent and keeps three channels.",
        "**Random crop** pads images smaller than the crop instead of failing on them.",
    ),
    run=run_init,
)


# -- Apply Image Transformation ---------------------------------------------------------------------
def run_apply(ctx) -> None:
    from visionblocks.data.apply import apply_transformation
    from visionblocks.imagedir import ImageDirectory
    from visionblocks.data.transforms import read_transformation_directory

    ops = read_transformation_directory(ctx.inputs["input_image_transformation"])
    source = ImageDirectory.load(ctx.inputs["input_image_directory"])
    apply_transformation(source, ops, MODE_CHOICES[ctx.params["mode"]], ctx.outputs["output_image_directory"],
                         progress=ctx.progress)


_APPLY_EXAMPLE = '''Attach a transformation to the digits for training and load one image as a tensor:

```python
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> from visionblocks.data.loading import ImageDataset
>>> raw = write_digits("digits", size=16, per_class=2)
>>> images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out="runs/convert")
>>> init = vb.run_module("init-image-transformation", params={"size": 32, "crop_size": 28},
...                      out="runs/transformation")
>>> inputs = {"input_image_transformation": init.outputs["output_image_transformation"],
...           "input_image_directory": images.outputs["output_image_directory"]}
>>> result = vb.run_module("apply-image-transformation", inputs=inputs, params={"mode": "For training"},
...                        out="runs/apply")
>>> image, label, index = ImageDataset(result.outputs["output_image_directory"])[0]
>>> tuple(image.shape), label
((3, 28, 28), 0)

```
'''

APPLY = ModuleSpec(
    id="apply-image-transformation",
    name="Apply Image Transformation",
    category=CATEGORY,
    summary="Attaches an image transformation to an image directory, for training or for inference.",
    description=(
        "Apply Image Transformation takes the transformation made by Init Image Transformation and an image "
        "directory, and outputs the image directory with the transformation attached. Labels and image ids are "
        "kept unchanged.\n\n"
        "**For training** applies every operation of the transformation. **For inference** leaves out the random "
        "operations (**Color jitter**, **Random resized crop**, **Random crop**, the random flips, **Random "
        "rotation**, **Random affine**, **Random grayscale**, **Random perspective** and **Random erasing**), so that scoring the same image "
        "always gives the same result.\n\n"
        "The operations run each time an image is loaded, for example by Train PyTorch Model, so the random "
        "augmentations differ in every epoch instead of being drawn once. When resizing and cropping make the "
        "images much smaller, those first steps are done once here and the smaller images are stored, which "
        "makes loading faster."
    ),
    steps=(
        "Add Init Image Transformation and Apply Image Transformation to your pipeline.",
        "Connect the output of Init Image Transformation to the **Input image transformation** port, and an image "
        "directory, for example from Convert to Image Directory or Split Image Directory, to the **Input image "
        "directory** port.",
        "Set **Mode** to **For training** for the images a model learns from, or to **For inference** for the images it is "
        "tested or scored on.",
        "Run the pipeline, and connect the output to Train PyTorch Model or Score Image Model.",
    ),
    inputs=(
        Port("input_image_transformation", ports.TRANSFORMATION_DIRECTORY, "Input image transformation",
             "The transformation made by Init Image Transformation."),
        Port("input_image_directory", ports.IMAGE_DIRECTORY, "Input image directory",
             "The images to transform; the directory must not have a transformation attached already."),
    ),
    outputs=(Port("output_image_directory", ports.IMAGE_DIRECTORY, "Output image directory",
                  "The same images, labels and ids, with the transformation attached."),),
    params=(
        Param("mode", "enum", "Mode",
              "**For training** applies every operation; **For inference** leaves out the random ones. There is no "
              "default: choose one.", choices=tuple(MODE_CHOICES), required=True),
    ),
    errors=(errors.NullOrEmptyError, errors.NotInRangeValueError, errors.InvalidDatasetError,
            errors.CouldNotOpenFileError, errors.InvalidTransformationDirectoryError),
    related=("init-image-transformation", "convert-to-image-directory", "train-pytorch-model", "score-image-model"),
    examples=(_APPLY_EXAMPLE,),
    notes=(
        "The designer leaves **Color jitter** in for inference; it is harmless there because the designer's "
        "**Color jitter** changes nothing. visionblocks' **Color jitter** really changes colors, so it is left out for "
        "inference with the other random operations.",
        "The transformation is stored with the images and runs when they are loaded, so random augmentation is "
        "drawn afresh in every training epoch. The designer writes the transformed images once.",
        "A transformation directory written by hand is accepted when its `_meta.yaml` has `transform_type: "
        "Image` and `_transforms.json` holds known torchvision operations; anything else is error 0158.",
    ),
    run=run_apply,
)


# -- Split Image Directory --------------------------------------------------------------------------
def run_split(ctx) -> None:
    from visionblocks.imagedir import ImageDirectory
    from visionblocks.data.split import split_directory

    source = ImageDirectory.load(ctx.inputs["input_image_directory"])
    p = ctx.params
    first, second = split_directory(source, p["fraction"], p["random_seed"], p["stratified"],
                                    ctx.outputs["output_image_directory1"], ctx.outputs["output_image_directory2"])
    ctx.progress.log(f"first output: {len(first)} images; second output: {len(second)} images")


_SPLIT_EXAMPLE = '''Keep 80 percent of 50 digits for training and the rest for testing:

```python
>>> import visionblocks as vb
>>> from visionblocks.datasets import write_digits
>>> from visionblocks.imagedir import ImageDirectory
>>> raw = write_digits("digits", size=16, per_class=5)
>>> images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out="runs/convert")
>>> result = vb.run_module("split-image-directory", params={"fraction": 0.8},
...                        inputs={"input_image_directory": images.outputs["output_image_directory"]},
...                        out="runs/split")
>>> first = ImageDirectory.load(result.outputs["output_image_directory1"])
>>> second = ImageDirectory.load(result.outputs["output_image_directory2"])
>>> len(first), len(second)
(40, 10)
>>> [entry.category for entry in second.entries]
['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']

```
'''

SPLIT = ModuleSpec(
    id="split-image-directory",
    name="Split Image Directory",
    category=CATEGORY,
    summary="Divides the images of an image directory into two sets, for example for training and testing.",
    description=(
        "Split Image Directory puts a given fraction of the images into its first output and all other images "
        "into its second output. The number of images in the first output is the fraction of the total, rounded "
        "down. The split is random but repeatable: the same random seed gives the same split. With stratified "
        "splitting on, each class keeps its share in both outputs. Labels, image ids and an attached "
        "transformation are kept."
    ),
    steps=(
        "Add the Split Image Directory module to your pipeline and connect an image directory to it.",
        "Set **Fraction of images in the first output**, for example 0.9 to keep 90 percent of the images for "
        "training.",
        "Optionally change the random seed, and whether the split is stratified by class.",
        "Run the pipeline. Connect the first output to training and the second to validation, testing or "
        "scoring.",
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
              "Share of the images that go to the first output, from 0 to 1; a count that is not a whole number "
              "is rounded down.", default=0.9, min=0.0, max=1.0, required=True),
        Param("random_seed", "int", "Random seed", "Seed of the random split; the same seed gives the same split.",
              default=0, min=0),
        Param("stratified", "bool", "Stratified split",
              "Give each class the same share of its images in the first output as **Fraction of images in the first "
              "output**, as closely as whole numbers allow. Unlabeled directories are split at random.", default=True),
    ),
    errors=(errors.NullOrEmptyError, errors.NotInRangeValueError, errors.ParameterParsingError,
            errors.GreaterThanOrEqualToError, errors.TooFewRowsInDatasetError, errors.InvalidDatasetError),
    related=("convert-to-image-directory", "apply-image-transformation", "train-pytorch-model"),
    examples=(_SPLIT_EXAMPLE,),
    notes=(
        "The designer does not document whether its split is random or stratified; visionblocks adds a random "
        "seed and stratification (on by default).",
    ),
    run=run_split,
)


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    for spec in (CONVERT, INIT, APPLY, SPLIT):
        register(spec)


@visionblocks.hookimpl
def visionblocks_register_transforms(register):
    from visionblocks.data.operations import BUILTIN_OPERATIONS

    for spec in BUILTIN_OPERATIONS:
        register(spec)

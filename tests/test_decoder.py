"""One decoder: the same tricky files give the same pixels on every path into a model.

The paths: Convert to Image Directory then the training loader (ImageDataset, uncached), the
training in-memory cache (DecodedImages), Score Image Model's dataset (scoring_dataset with the
model's transformation) and the web service's decode_image (from the original bytes, which the
other paths only see after conversion).
"""

import numpy as np
import pytest
import torch
from PIL import Image

import visionblocks as vb
from fixtures_images import PLAIN_FILES, TRICKY_FILES
from visionblocks import errors
from visionblocks.data.loading import ImageDataset
from visionblocks.imagedir import ImageDirectory
from visionblocks.images import check_pixels, open_rgb
from visionblocks.learn import models
from visionblocks.learn.image_cache import DecodedImages
from visionblocks.learn.score import Scorer, scoring_dataset
from visionblocks.service.formats import ImageInput, Rejected, decode_image

ALL_FILES = {**TRICKY_FILES, **PLAIN_FILES}
SERVICE_MAX_PIXELS = 25_000_000


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """name → path of each original file, all in one flat (unlabeled) folder."""
    folder = tmp_path_factory.mktemp("raw")
    return {name: maker(folder) for name, maker in ALL_FILES.items()}


@pytest.fixture(scope="module")
def converted(originals, tmp_path_factory):
    folder = next(iter(originals.values())).parent
    out = vb.run_module("convert-to-image-directory", inputs={"input_dataset": folder},
                        out=tmp_path_factory.mktemp("convert")).outputs["output_image_directory"]
    return ImageDirectory.load(out)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    """A model without a stored transformation: Score Image Model then feeds it ToTensor's output."""
    torch.manual_seed(0)
    config = models.untrained_config("resnet18", pretrained=False)
    folder = tmp_path_factory.mktemp("model") / "trained_model"
    models.save_trained(folder, models.build_model(config, 2), config, ["a", "b"], None)
    return Scorer(folder, device="cpu")


def _index_of(directory: ImageDirectory, original) -> int:
    return next(i for i, e in enumerate(directory.entries) if e.base_file_name == original.name)


def _uint8(chw_float: torch.Tensor) -> np.ndarray:
    """ToTensor's float C×H×W in [0, 1] back to uint8 H×W×C (exact: v/255·255 rounds to v)."""
    return (chw_float * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _service_pixels(path) -> np.ndarray:
    image = decode_image(ImageInput(path.name, path.read_bytes()), SERVICE_MAX_PIXELS)
    return np.asarray(image)


def test_the_files_are_tricky_where_they_should_be(originals, converted):
    """Conversion stores the tricky files as PNG and keeps the plain ones byte for byte, so
    loading reads both kinds; the tricky ones are seen by the table, not as stored."""
    for name, path in originals.items():
        stored = converted.path_of(converted.entries[_index_of(converted, path)])
        if name in PLAIN_FILES:
            assert stored.read_bytes() == path.read_bytes()
        else:
            assert stored.suffix == ".png" and stored.read_bytes() != path.read_bytes()
    assert converted.plain
    assert open_rgb(originals["exif_rotated_jpeg"])[0].size == (16, 24)  # stored 24 × 16, seen upright
    with Image.open(originals["palette_png_with_transparency"]) as image:
        clear = np.asarray(image) == 3  # the see-through palette index
    assert clear.any() and (np.asarray(open_rgb(originals["palette_png_with_transparency"])[0])[clear] == 255).all()
    assert np.asarray(open_rgb(originals["gray16_png"])[0]).max() > 200  # scaled by 16 bits, not clamped


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_path_gives_identical_pixels(name, originals, converted, scorer):
    original = originals[name]
    index = _index_of(converted, original)
    expected = np.asarray(open_rgb(original)[0])
    loading = ImageDataset(converted)
    cache = DecodedImages(ImageDataset(converted), threads=2)
    scoring = scoring_dataset(scorer, converted)
    paths = {
        "convert + training loader": _uint8(loading[index][0]),
        "training cache (kept pixels)": cache.images[index].permute(1, 2, 0).numpy(),
        "training cache (items)": _uint8(cache[index][0]),
        "Score Image Model": _uint8(scoring[index][0]),
        "service": _service_pixels(original),
    }
    for path, pixels in paths.items():
        assert pixels.dtype == np.uint8 and pixels.shape == expected.shape, path
        assert np.array_equal(pixels, expected), f"{name}: {path} decodes other pixels"
    # What the service feeds the model is what Score Image Model feeds it.
    service_input = scorer.transform(decode_image(ImageInput(original.name, original.read_bytes()), SERVICE_MAX_PIXELS))
    assert torch.equal(service_input, scoring[index][0])


def test_plain_decoding_is_the_table_for_plain_files(originals):
    for name in PLAIN_FILES:
        fast, _ = open_rgb(originals[name], plain=True)
        assert np.array_equal(np.asarray(fast), np.asarray(open_rgb(originals[name])[0]))


def test_plain_decoding_still_converts_a_file_that_is_not_plain(originals):
    """A directory wrongly marked plain still gets the table's pixels for other modes."""
    path = originals["gray16_png"]
    assert np.array_equal(np.asarray(open_rgb(path, plain=True)[0]), np.asarray(open_rgb(path)[0]))


def test_one_pixel_limit_for_files_bytes_and_the_service(originals):
    path = originals["plain_jpeg"]  # 22 × 18 = 396 pixels
    with pytest.raises(errors.ImageExceedsLimitError, match="22×18 = 396 pixels, over the limit of 395"):
        open_rgb(path, 395)
    assert open_rgb(path, 396)[0].size == (22, 18) and open_rgb(path, None)[0].size == (22, 18)
    with pytest.raises(errors.ImageExceedsLimitError, match="^File 1 is 22×18"):
        check_pixels((22, 18), 395, "File 1")
    with pytest.raises(Rejected) as refused:
        decode_image(ImageInput("Inputs.WebServiceInput0[0].image", path.read_bytes()), 395)
    assert refused.value.status == 413 and refused.value.error.code_str == "0127"
    assert refused.value.error.message.startswith("Inputs.WebServiceInput0[0].image is 22×18")

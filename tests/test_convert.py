"""Convert to Image Directory: layout rules, the RGB conversion table, broken files, hostile archives."""

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import ImageFolder

import visionblocks as vb
from visionblocks import errors
from visionblocks.cli import main as cli_main
from visionblocks.data.convert import QUARANTINE, convert
from visionblocks.imagedir import ImageDirectory
from visionblocks.images import has_image_extension, open_rgb
from visionblocks.data.loading import ImageDataset
from visionblocks.progress import Progress

from fixtures_images import (BROKEN_FILES, BROKEN_REASONS, HOSTILE_ARCHIVES, HOSTILE_LIMITS, MODE_FIXTURES,
                             compressed_single, decoded_sizes, png_bytes, tar_folder, write_classes,
                             write_hidden_and_broken, write_messy_folder, zip_folder)
from service_helpers import png_header_claiming

MODULE = "convert-to-image-directory"
PORT = "output_image_directory"


def run_convert(source, out, **params) -> ImageDirectory:
    result = vb.run_module(MODULE, inputs={"input_dataset": source}, params=params, out=out)
    return ImageDirectory.load(result.outputs[PORT])


def quarantine(directory: ImageDirectory) -> dict:
    return json.loads((directory.root / QUARANTINE).read_text())


def refused(out: Path, error, source, match=None, **params):
    with pytest.raises(error, match=match) as info:
        run_convert(source, out, **params)
    assert not (out / PORT).exists(), "a refused input must leave no output"
    assert json.loads((out / "error_info.json").read_text())["Exception"]["ErrorCode"] == error.code
    return info.value


# -- the RGB conversion table, one fixture per mode ----------------------------------------------------
@pytest.mark.parametrize("name", MODE_FIXTURES)
def test_each_mode_converts_to_rgb_by_the_table(tmp_path, name):
    maker, mode, expected, size, tolerance = MODE_FIXTURES[name]
    image, original_mode = open_rgb(maker(tmp_path))
    assert image.mode == "RGB" and original_mode == mode and image.size == size
    assert np.abs(np.subtract(image.getpixel((0, 0)), expected)).max() <= tolerance


def test_sixteen_bit_is_scaled_not_clamped(tmp_path):
    # Pillow's own convert("L") clamps 16-bit values at 255: 4112 would become white.
    path = MODE_FIXTURES["gray16_png_scaled"][0](tmp_path)
    assert Image.open(path).convert("L").getpixel((0, 0)) == 255
    assert open_rgb(path)[0].getpixel((0, 0)) == (16, 16, 16)


def test_converted_directory_records_modes_and_loads_the_table_pixels(tmp_path):
    raw = tmp_path / "raw"
    expected = {}
    for name, (maker, mode, pixel, size, tolerance) in MODE_FIXTURES.items():
        expected[maker(raw).name] = (mode, pixel, size, tolerance)
    directory = run_convert(raw, tmp_path / "out")
    assert directory.classes is None and directory.plain and len(directory) == len(MODE_FIXTURES)
    dataset = ImageDataset(directory)
    for index, entry in enumerate(directory.entries):
        mode, pixel, size, tolerance = expected[entry.base_file_name]
        assert entry.mode == mode and (entry.width, entry.height) == size
        stored = directory.path_of(entry)
        assert stored.suffix in (".png", ".jpg") or entry.mode == "RGB"
        loaded = (dataset[index][0][:, 0, 0] * 255).round().tolist()
        assert np.abs(np.subtract(loaded, pixel)).max() <= tolerance, entry.base_file_name


def test_plain_files_are_kept_byte_for_byte_and_others_become_png(tmp_path):
    raw = write_classes(tmp_path / "raw", {"a": 1})
    MODE_FIXTURES["cmyk"][0](raw / "a")
    directory = run_convert(raw, tmp_path / "out")
    by_source = {e.base_file_name: e for e in directory.entries}
    assert directory.path_of(by_source["a/0.png"]).read_bytes() == (raw / "a" / "0.png").read_bytes()
    converted = directory.path_of(by_source["a/cmyk.jpg"])
    assert converted.suffix == ".png" and Image.open(converted).mode == "RGB"
    assert [e.file_name for e in directory.entries] == ["image/0_0.png", "image/0_1.png"]
    assert [e.id for e in directory.entries] == [0, 1]
    # A copy, not a link: editing the input later leaves the output alone.
    assert os.stat(raw / "a" / "0.png").st_ino != os.stat(directory.path_of(by_source["a/0.png"])).st_ino


# -- layout rules and ImageFolder ------------------------------------------------------------------
def test_same_classes_ids_and_images_as_imagefolder_on_a_messy_folder(tmp_path):
    raw = write_messy_folder(tmp_path / "raw")
    reference = ImageFolder(str(raw), allow_empty=True)
    directory = run_convert(raw, tmp_path / "out")
    assert directory.classes == reference.classes == ["Zebras", "cats", "dogs", "empty_class"]
    assert directory.class_to_idx == reference.class_to_idx
    assert len(directory) == len(reference.samples) == 11
    assert directory.targets() == reference.targets
    sources = [Path(path).relative_to(raw).as_posix() for path, _ in reference.samples]
    assert [e.base_file_name for e in directory.entries] == sources
    skipped = {item["file"]: item["reason"] for item in quarantine(directory)["skipped"]}
    assert skipped == {"README.md": "outside any class folder", "dogs/Thumbs.db": "not an image file extension",
                       "dogs/labels.csv": "not an image file extension", "dogs/notes.txt": "not an image file extension"}
    assert quarantine(directory)["ignored"] == ["dogs/.DS_Store"]


def test_dot_folders_and_broken_images_are_left_out_where_imagefolder_counts_them(tmp_path):
    raw = write_hidden_and_broken(write_messy_folder(tmp_path / "raw"))

    def decodes(path):
        try:
            open_rgb(path)
            return True
        except OSError:
            return False

    class VisibleImageFolder(ImageFolder):  # ImageFolder minus what visionblocks documents it leaves out
        def find_classes(self, directory):
            classes, _ = super().find_classes(directory)
            classes = [c for c in classes if not c.startswith(".")]
            return classes, {c: i for i, c in enumerate(classes)}

    def valid(path):
        parts = Path(path).relative_to(raw).parts
        return has_image_extension(path) and not any(p.startswith(".") for p in parts) and decodes(path)

    assert ".ipynb_checkpoints" in ImageFolder(str(raw), allow_empty=True).classes
    reference = VisibleImageFolder(str(raw), is_valid_file=valid, allow_empty=True)
    directory = run_convert(raw, tmp_path / "out")
    assert directory.classes == reference.classes
    assert directory.targets() == reference.targets and len(directory) == len(reference.samples)
    report = quarantine(directory)
    assert {"file": "cats/broken.png", "reason": "not a readable image (format not recognised)"} in report["skipped"]
    assert {".ipynb_checkpoints/", "cats/.ipynb_checkpoints/", "cats/.hidden.png"} <= set(report["ignored"])


def test_empty_class_is_kept_with_a_warning_and_a_class_table_is_printed(tmp_path):
    raw = write_classes(tmp_path / "raw", {"cats": 2, "dogs": 1})
    (raw / "birds").mkdir()
    stream = io.StringIO()
    (tmp_path / "out").mkdir()
    report = convert(raw, tmp_path / "out", progress=Progress("convert", stream=stream, quiet=False))
    assert report.classes == ["birds", "cats", "dogs"] and report.counts == [0, 2, 1]
    log = stream.getvalue()
    assert "class folder 'birds' holds no valid image" in log
    table = [line.split("] ", 1)[1].split() for line in log.splitlines() if line.split("] ", 1)[1][:4].strip().isdigit()]
    assert table == [["0", "birds", "0"], ["1", "cats", "2"], ["2", "dogs", "1"]]


def test_images_without_class_folders_are_unlabeled(tmp_path, digits_dir):
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted(digits_dir.glob("[01]/*.png"))[:6]:
        shutil.copy(path, raw / f"{path.parent.name}_{path.name}")
    directory = run_convert(raw, tmp_path / "out")
    assert directory.classes is None and not directory.labeled and len(directory) == 6
    assert all(e.category is None for e in directory.entries)
    assert ImageDataset(directory)[0][1] == -1


def test_class_folders_without_valid_images_fall_back_to_unlabeled(tmp_path):
    raw = tmp_path / "raw"
    (raw / "misc").mkdir(parents=True)
    (raw / "misc" / "notes.txt").write_text("no images here")
    (raw / "a.png").write_bytes(png_bytes())
    directory = run_convert(raw, tmp_path / "out")
    assert directory.classes is None and [e.base_file_name for e in directory.entries] == ["a.png"]


def test_large_digits_folder_matches_imagefolder_targets(tmp_path, digits_dir):
    directory = run_convert(digits_dir, tmp_path / "out")
    reference = ImageFolder(str(digits_dir))
    assert directory.classes == reference.classes and directory.targets() == reference.targets
    assert quarantine(directory) == {"skipped_count": 0, "skipped": [], "ignored": []}


# -- broken files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", BROKEN_FILES)
def test_broken_file_is_skipped_and_reported(tmp_path, kind):
    name, data = BROKEN_FILES[kind]
    raw = write_classes(tmp_path / "raw", {"cats": 1})
    (raw / "cats" / name).write_bytes(data)
    directory = run_convert(raw, tmp_path / "out")
    assert len(directory) == 1
    report = quarantine(directory)
    assert report["skipped_count"] == 1 and report["skipped"][0]["file"] == f"cats/{name}"
    assert BROKEN_REASONS[kind] in report["skipped"][0]["reason"]


def test_wrong_extension_that_decodes_counts(tmp_path):
    raw = tmp_path / "raw" / "cats"
    raw.mkdir(parents=True)
    (raw / "really_a_png.jpg").write_bytes(png_bytes())
    directory = run_convert(raw.parent, tmp_path / "out")
    assert len(directory) == 1 and directory.entries[0].mode == "RGB"


def test_strict_turns_any_skipped_file_into_an_error(tmp_path):
    raw = write_classes(tmp_path / "raw", {"cats": 2})
    (raw / "cats" / "broken.png").write_bytes(b"nope")
    (raw / "cats" / ".DS_Store").write_bytes(b"ignored even in strict mode")
    error = refused(tmp_path / "out", errors.FileParsingFailedError, raw, "cats/broken.png", strict=True)
    assert error.code == 49
    (raw / "cats" / "broken.png").unlink()
    assert len(run_convert(raw, tmp_path / "ok", strict=True)) == 2


def test_image_over_the_pixel_limit_is_refused(tmp_path):
    raw = write_classes(tmp_path / "raw", {"cats": 1}, size=(8, 6))
    refused(tmp_path / "out", errors.ImageExceedsLimitError, raw, "8×6 = 48 pixels", max_pixels=47)
    assert len(run_convert(raw, tmp_path / "ok", max_pixels=48)) == 1


def test_a_bomb_header_is_refused_by_the_pixel_check_before_decoding(tmp_path, monkeypatch):
    """A PNG of a few bytes whose header claims 10,000 x 10,000 pixels: over the default limit
    (Pillow's warning threshold), under Pillow's own hard limit, so only Convert's header check can
    refuse it. Had the pixels been decoded first, the short body would have been skipped as a
    truncated image instead of refusing the input."""
    raw = write_classes(tmp_path / "raw", {"cats": 2})
    (raw / "cats" / "bomb.png").write_bytes(png_header_claiming(10_000, 10_000))
    decoded = decoded_sizes(monkeypatch)
    refused(tmp_path / "out", errors.ImageExceedsLimitError, raw,
            "bomb.png is 10000×10000 = 100,000,000 pixels, over the limit of 89,478,485 pixels")
    assert (10_000, 10_000) not in decoded


def test_empty_input_is_null_or_empty(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    refused(tmp_path / "out1", errors.NullOrEmptyError, raw, "holds no file")
    (raw / ".DS_Store").write_bytes(b"hidden files do not count")
    refused(tmp_path / "out2", errors.NullOrEmptyError, raw, "holds no file")
    empty_zip = zip_folder(raw, tmp_path / "empty.zip")
    refused(tmp_path / "out3", errors.NullOrEmptyError, empty_zip)


def test_input_without_any_valid_image_is_too_few_rows(tmp_path):
    raw = tmp_path / "raw" / "cats"
    raw.mkdir(parents=True)
    (raw / "a.png").write_bytes(b"broken")
    (raw / "b.txt").write_text("text")
    refused(tmp_path / "out", errors.TooFewRowsInDatasetError, raw.parent, "No valid image")


def test_missing_input_and_an_image_directory_input_are_refused(tmp_path, digits_dir):
    with pytest.raises(errors.NullOrEmptyError):
        run_convert(tmp_path / "nowhere", tmp_path / "out0")
    converted = run_convert(write_classes(tmp_path / "raw", {"a": 1}), tmp_path / "out1")
    refused(tmp_path / "out2", errors.InvalidDatasetError, converted.root, "already an ImageDirectory")


# -- archives --------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2"])
def test_archives_give_the_same_directory_as_the_folder(tmp_path, suffix):
    raw = write_classes(tmp_path / "raw", {"cats": 2, "dogs": 3})
    archive = tmp_path / f"pets{suffix}"
    if suffix == ".zip":
        zip_folder(raw, archive)
    else:
        tar_folder(raw, archive, {".tar": "w", ".tar.gz": "w:gz", ".tgz": "w:gz", ".tar.bz2": "w:bz2"}[suffix])
    from_folder = run_convert(raw, tmp_path / "a")
    from_archive = run_convert(archive, tmp_path / "b")
    assert from_archive.classes == from_folder.classes == ["cats", "dogs"]
    assert [e.to_json() for e in from_archive.entries] == [e.to_json() for e in from_folder.entries]


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_single_compressed_image_is_one_unlabeled_image(tmp_path, suffix):
    archive = compressed_single(png_bytes((5, 7)), tmp_path / f"photo.png{suffix}")
    directory = run_convert(archive, tmp_path / "out")
    assert len(directory) == 1 and directory.classes is None
    assert directory.entries[0].base_file_name == "photo.png" and directory.entries[0].width == 5


def test_archive_of_a_single_folder_reads_that_folder_and_skips_macosx(tmp_path):
    raw = write_classes(tmp_path / "raw" / "pets", {"cats": 1, "dogs": 1})
    (tmp_path / "raw" / "__MACOSX" / "pets").mkdir(parents=True)
    (tmp_path / "raw" / "__MACOSX" / "pets" / "._cats").write_bytes(b"resource fork")
    archive = zip_folder(tmp_path / "raw", tmp_path / "pets.zip")
    directory = run_convert(archive, tmp_path / "out")
    assert directory.classes == ["cats", "dogs"] and len(directory) == 2
    assert raw.exists()


@pytest.mark.parametrize("kind", HOSTILE_ARCHIVES)
def test_hostile_archive_is_refused_and_nothing_is_written(tmp_path, kind):
    maker, message = HOSTILE_ARCHIVES[kind]
    message = message or None
    (tmp_path / "archives").mkdir()
    archive = maker(tmp_path / "archives")
    before = set(Path("/tmp").glob("evil*"))
    out = tmp_path / "runs" / "out"
    refused(out, errors.InvalidZipFileError, archive, message, **HOSTILE_LIMITS)
    assert set(Path("/tmp").glob("evil*")) == before
    assert not list(tmp_path.rglob("evil*"))
    assert sorted(p.name for p in out.iterdir()) == ["error_info.json"], "no extracted file may stay behind"


def test_an_honest_zip_over_the_size_budget_is_refused_before_unpacking(tmp_path, monkeypatch):
    """The declared sizes are true and each entry fits the budget; their sum does not. The sum is
    checked from the central directory, so not one byte is unpacked."""
    from visionblocks.data import archives

    maker, message = HOSTILE_ARCHIVES["zip_honest_sizes_over_budget"]
    (tmp_path / "archives").mkdir()
    unpacked = []
    monkeypatch.setattr(archives, "_copy_limited", lambda *args: unpacked.append(args))
    refused(tmp_path / "out", errors.InvalidZipFileError, maker(tmp_path / "archives"), message, **HOSTILE_LIMITS)
    assert unpacked == []


# -- parameters, CLI ---------------------------------------------------------------------------------
@pytest.mark.parametrize("params, error", [
    ({"max_pixels": 0}, errors.NotInRangeValueError),
    ({"max_pixels": 10**12}, errors.NotInRangeValueError),
    ({"max_archive_files": 0}, errors.GreaterThanOrEqualToError),
    ({"max_unpacked_mb": -1}, errors.GreaterThanOrEqualToError),
    ({"strict": "maybe"}, errors.ParameterParsingError),
])
def test_bad_parameters_are_refused_before_running(tmp_path, params, error):
    raw = write_classes(tmp_path / "raw", {"a": 1})
    refused(tmp_path / "out", error, raw, **params)


def test_runs_from_the_cli(tmp_path, capsys):
    raw = write_classes(tmp_path / "raw", {"cats": 2, "dogs": 1})
    code = cli_main(["module", "run", MODULE, "--input", f"input_dataset={raw}", "--param", "strict=true",
                     "--out", str(tmp_path / "out")])
    assert code == 0 and len(ImageDirectory.load(tmp_path / "out" / PORT)) == 3
    (raw / "cats" / "bad.png").write_bytes(b"x")
    code = cli_main(["module", "run", MODULE, "--input", f"input_dataset={raw}", "--param", "strict=true",
                     "--out", str(tmp_path / "out2")])
    assert code == 2 and "Error 0049 FileParsingFailed" in capsys.readouterr().err


def test_loaded_tensors_match_pil_decoding(tmp_path, digits_dir):
    directory = run_convert(digits_dir, tmp_path / "out")
    dataset = ImageDataset(directory)
    for index in (0, 150, 299):
        pil = torch.from_numpy(np.asarray(open_rgb(directory.path_of(directory.entries[index]))[0]).copy())
        assert torch.equal(dataset[index][0], pil.permute(2, 0, 1).float() / 255)

"""Split Image Directory: counts, seeds, stratification, ranges, and what the outputs keep."""

from collections import Counter

import pytest

import visionblocks as vb
from visionblocks import errors
from visionblocks.cli import main as cli_main
from visionblocks.imagedir import ImageDirectory
from visionblocks.data.split import choose_first, first_count
from visionblocks.data.transforms import write_transformation_directory

MODULE = "split-image-directory"


@pytest.fixture(scope="module")
def converted(tmp_path_factory, digits_dir):
    out = tmp_path_factory.mktemp("converted")
    return vb.run_module("convert-to-image-directory", inputs={"input_dataset": digits_dir},
                         out=out).outputs["output_image_directory"]


def split(tmp_path, directory, name="split", **params):
    result = vb.run_module(MODULE, inputs={"input_image_directory": directory}, params=params, out=tmp_path / name)
    return (ImageDirectory.load(result.outputs["output_image_directory1"]),
            ImageDirectory.load(result.outputs["output_image_directory2"]))


def ids(directory):
    return [e.id for e in directory.entries]


@pytest.mark.parametrize("total, fraction, expected", [
    (100, 0.29, 29), (100, 0.9, 90), (10, 0.99, 9), (7, 0.5, 3), (3, 0.0, 0), (3, 1.0, 3), (1, 0.999, 0),
])
def test_first_output_count_is_rounded_down(total, fraction, expected):
    assert first_count(total, fraction) == expected
    for stratified in (False, True):
        assert len(choose_first([i % 3 for i in range(total)], total, fraction, 0, stratified)) == expected


def test_default_fraction_is_0_9_and_outputs_partition_the_input(tmp_path, converted):
    first, second = split(tmp_path, converted)
    source = ImageDirectory.load(converted)
    assert (len(first), len(second)) == (270, 30)
    assert sorted(ids(first) + ids(second)) == ids(source) and not set(ids(first)) & set(ids(second))
    by_id = {e.id: e for e in source.entries}
    for part in (first, second):
        assert part.classes == source.classes and part.plain
        assert all(e.to_json() == by_id[e.id].to_json() for e in part.entries)
        assert all(part.path_of(e).read_bytes() == source.path_of(by_id[e.id]).read_bytes() for e in part.entries[:5])


def test_same_seed_same_split_and_another_seed_another(tmp_path, converted):
    a, _ = split(tmp_path, converted, "a", fraction=0.5, random_seed=7)
    b, _ = split(tmp_path, converted, "b", fraction=0.5, random_seed=7)
    c, _ = split(tmp_path, converted, "c", fraction=0.5, random_seed=8)
    assert ids(a) == ids(b) and ids(a) != ids(c)


def test_stratified_split_keeps_each_class_share(tmp_path, converted):
    first, second = split(tmp_path, converted, fraction=0.7, random_seed=3)
    assert Counter(e.category for e in first.entries) == {str(d): 21 for d in range(10)}
    assert Counter(e.category for e in second.entries) == {str(d): 9 for d in range(10)}


def test_stratified_split_hands_leftovers_to_the_largest_remainders():
    targets = [0] * 7 + [1] * 3 + [2] * 10
    chosen = choose_first(targets, 20, 0.5, 0, True)
    per_class = Counter(targets[i] for i in chosen)
    # Quotas 3.5, 1.5 and 5 round down to 3, 1 and 5; the one image left goes to class 0 or 1.
    assert len(chosen) == 10 and per_class[2] == 5
    assert (per_class[0], per_class[1]) in ((4, 1), (3, 2))


def test_unstratified_split_ignores_classes(tmp_path, converted):
    first, _ = split(tmp_path, converted, fraction=0.7, random_seed=3, stratified=False)
    assert len(first) == 210 and Counter(e.category for e in first.entries) != {str(d): 21 for d in range(10)}


def test_unlabeled_directory_is_split_at_random(tmp_path, converted):
    source = ImageDirectory.load(converted)
    unlabeled = tmp_path / "unlabeled"
    unlabeled.mkdir()
    (unlabeled / "image").symlink_to(source.root / "image")
    entries = [type(e)(e.id, e.file_name) for e in source.entries[:25]]
    ImageDirectory.write(unlabeled, entries, None)
    first, second = split(tmp_path, unlabeled, fraction=0.6)
    assert (len(first), len(second)) == (15, 10) and first.classes is None


@pytest.mark.parametrize("params, error", [
    ({"fraction": -0.1}, errors.NotInRangeValueError),
    ({"fraction": 1.5}, errors.NotInRangeValueError),
    ({"fraction": "half"}, errors.ParameterParsingError),
    ({"fraction": None}, errors.NullOrEmptyError),
    ({"random_seed": -1}, errors.GreaterThanOrEqualToError),
    ({"stratified": "perhaps"}, errors.ParameterParsingError),
])
def test_bad_parameters_are_refused(tmp_path, converted, params, error):
    with pytest.raises(error):
        split(tmp_path, converted, **params)
    assert not (tmp_path / "split" / "output_image_directory1").exists()


def test_empty_directory_is_too_few_rows(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    ImageDirectory.write(empty, [], ["a"])
    with pytest.raises(errors.TooFewRowsInDatasetError):
        split(tmp_path, empty)


def test_an_attached_transformation_is_kept(tmp_path, converted):
    transformation = tmp_path / "t"
    transformation.mkdir()
    write_transformation_directory(transformation, [["Resize", 8], ["RandomHorizontalFlip", {}]])
    applied = vb.run_module("apply-image-transformation", params={"mode": "For training"}, out=tmp_path / "applied",
                            inputs={"input_image_transformation": transformation, "input_image_directory": converted})
    first, second = split(tmp_path, applied.outputs["output_image_directory"], fraction=0.5)
    for part in (first, second):
        assert part.transform == [["Resize", 8], ["RandomHorizontalFlip", {}]] and part.transform_mode == "training"


def test_runs_from_the_cli(tmp_path, converted):
    assert cli_main(["module", "run", MODULE, "--input", f"input_image_directory={converted}",
                     "--param", "fraction=0.25", "--out", str(tmp_path / "out")]) == 0
    assert len(ImageDirectory.load(tmp_path / "out" / "output_image_directory1")) == 75

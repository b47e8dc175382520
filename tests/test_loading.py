"""ImageDataset and make_loader: the contract training and scoring code against."""

import pytest
import torch
import yaml
from PIL import Image
from torch.utils.data import SequentialSampler

import visionblocks as vb
from visionblocks import errors
from visionblocks.data import loading
from visionblocks.imagedir import ImageDirectory
from visionblocks.data.loading import ImageDataset, default_num_workers, make_loader
from visionblocks.ports import META_FILE
from visionblocks.data.transforms import write_transformation_directory

from fixtures_images import decoded_sizes
from service_helpers import png_header_claiming


@pytest.fixture(scope="module")
def converted(tmp_path_factory, digits_dir):
    out = tmp_path_factory.mktemp("converted")
    return vb.run_module("convert-to-image-directory", inputs={"input_dataset": digits_dir},
                         out=out).outputs["output_image_directory"]


@pytest.fixture(scope="module")
def augmented(tmp_path_factory, converted):
    out = tmp_path_factory.mktemp("augmented")
    (out / "t").mkdir()
    write_transformation_directory(out / "t", [["Resize", 20], ["RandomRotation", 30], ["ToTensor", {}]])
    return vb.run_module("apply-image-transformation", params={"mode": "For training"}, out=out / "run",
                         inputs={"input_image_transformation": out / "t",
                                 "input_image_directory": converted}).outputs["output_image_directory"]


def test_items_are_float_chw_tensor_class_id_and_index(converted):
    dataset = ImageDataset(str(converted))
    image, target, index = dataset[42]
    assert image.dtype == torch.float32 and image.shape == (3, 16, 16) and 0.0 <= image.min() <= image.max() <= 1.0
    assert (target, index) == (ImageDirectory.load(converted).targets()[42], 42)
    assert dataset.classes == [str(d) for d in range(10)] and len(dataset) == 300
    assert isinstance(dataset.directory, ImageDirectory)


def test_without_a_stored_transform_only_to_tensor_runs(converted):
    dataset = ImageDataset(converted)
    assert dataset.mode == "inference" and [name for name, _ in dataset.transform.ops] == ["ToTensor"]


def test_mode_comes_from_the_argument_then_the_directory(augmented):
    assert ImageDataset(augmented).mode == "training"
    inference = ImageDataset(augmented, mode="inference")
    assert [name for name, _ in inference.transform.ops] == ["Resize", "ToTensor"]
    assert torch.equal(inference[3][0], inference[3][0])
    with pytest.raises(errors.NotInRangeValueError):
        ImageDataset(augmented, mode="testing")


def test_unlabeled_targets_are_minus_one(tmp_path, converted):
    source = ImageDirectory.load(converted)
    folder = tmp_path / "unlabeled"
    folder.mkdir()
    (folder / "image").symlink_to(source.root / "image")
    ImageDirectory.write(folder, [type(e)(e.id, e.file_name) for e in source.entries[:3]], None, plain=True)
    dataset = ImageDataset(folder)
    assert dataset.classes is None and [dataset[i][1] for i in range(3)] == [-1, -1, -1]


def test_plain_and_full_decoding_give_the_same_tensors(tmp_path, converted):
    full = tmp_path / "full"
    full.mkdir()
    (full / "image").symlink_to(converted / "image")
    for name in ("images.lst", "_schema.json"):
        (full / name).write_bytes((converted / name).read_bytes())
    meta = yaml.safe_load((converted / META_FILE).read_text())
    (full / META_FILE).write_text(yaml.safe_dump({**meta, "plain": False}))
    plain, slow = ImageDataset(converted), ImageDataset(full)
    assert plain.directory.plain and not slow.directory.plain
    assert all(torch.equal(plain[i][0], slow[i][0]) for i in range(0, 300, 37))


def test_a_missing_file_is_could_not_open_file(tmp_path, converted):
    source = ImageDirectory.load(converted)
    folder = tmp_path / "broken"
    folder.mkdir()
    ImageDirectory.write(folder, source.entries[:2], source.classes, plain=True)
    with pytest.raises(errors.CouldNotOpenFileError, match="0_0.png"):
        ImageDataset(folder)[0]


def test_a_bomb_header_in_an_image_directory_is_refused_before_decoding(tmp_path, monkeypatch):
    """Training's loader and its in-memory cache read files that Convert checked, so they set no
    pixel limit of their own; a file swapped afterwards for a header claiming 100,000 x 100,000
    pixels is still refused (0127) from its header by the one decoder, before any pixel is decoded."""
    from visionblocks.learn.image_cache import DecodedImages

    raw = tmp_path / "raw" / "cats"
    raw.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (8, 8), (i * 80, 0, 0)).save(raw / f"{i}.png")
    folder = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw.parent},
                           out=tmp_path / "out").outputs["output_image_directory"]
    directory = ImageDirectory.load(folder)
    directory.path_of(directory.entries[1]).write_bytes(png_header_claiming(100_000, 100_000))
    decoded = decoded_sizes(monkeypatch)
    dataset = ImageDataset(folder)
    with pytest.raises(errors.ImageExceedsLimitError, match="claims more pixels than Pillow ever decodes") as caught:
        dataset[1]
    assert caught.value.code == 127
    with pytest.raises(errors.ImageExceedsLimitError):
        DecodedImages(dataset, threads=2)
    assert (100_000, 100_000) not in decoded and decoded  # the two real images were decoded


def test_seeded_shuffling_repeats_and_epochs_draw_new_augmentations(augmented):
    dataset = ImageDataset(augmented)
    order = lambda seed: torch.cat([batch[2] for batch in make_loader(dataset, 64, shuffle=True, seed=seed,
                                                                      num_workers=0)]).tolist()
    assert order(5) == order(5) != order(6) and sorted(order(5)) == list(range(300))
    loader = make_loader(dataset, 300, shuffle=False, num_workers=0)
    first, second = (next(iter(loader))[0] for _ in range(2))
    assert not torch.equal(first, second), "random rotation must be drawn again in the next epoch"


def test_worker_processes_return_every_item_once(augmented):
    loader = make_loader(ImageDataset(augmented), 32, num_workers=2)
    assert loader.persistent_workers and loader.num_workers == 2
    for _ in range(2):
        indices = torch.cat([batch[2] for batch in loader]).tolist()
        assert indices == list(range(300))


def test_loader_options(converted):
    dataset = ImageDataset(converted)
    loader = make_loader(dataset, 16, shuffle=True, sampler=SequentialSampler(dataset), drop_last=True,
                         num_workers=0, pin_memory=False)
    batches = list(loader)
    assert len(batches) == 300 // 16 and batches[0][2].tolist() == list(range(16))
    assert not loader.persistent_workers



def test_a_batch_sampler_replaces_the_batching(converted):
    """Training's loaders come from make_loader too: a batch sampler and a collate function."""
    dataset = ImageDataset(converted)
    batches = [[3, 1], [0, 2, 4]]
    loader = make_loader(dataset, 2, num_workers=0, batch_sampler=batches,
                         collate_fn=lambda items: [index for _image, _target, index in items])
    assert list(loader) == batches
    with pytest.raises(ValueError, match="batch_sampler replaces"):
        make_loader(dataset, 2, shuffle=True, batch_sampler=batches)

def test_default_worker_count(monkeypatch):
    monkeypatch.setattr(loading, "usable_cores", lambda: 2)
    assert default_num_workers(1000, 32) == 1
    assert default_num_workers(50, 32) == 0  # two batches or fewer: workers cost more than they save
    monkeypatch.setattr(loading, "usable_cores", lambda: 1)
    assert default_num_workers(1000, 32) == 0
    monkeypatch.setattr(loading, "usable_cores", lambda: 64)
    assert default_num_workers(10**6, 32) == 8
    assert make_loader(list(range(10)), 5).num_workers == 0

"""Test images and archives made in code: one per color mode, per broken-file kind and per
hostile-archive kind, plus a messy folder to compare with torchvision's ImageFolder.

Every maker writes into a folder it is given and returns the path; nothing binary is committed.
"""

from __future__ import annotations

import bz2
import gzip
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile


def png_bytes(size=(8, 6), color=(200, 30, 30), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, "PNG")
    return buffer.getvalue()


def decoded_sizes(monkeypatch) -> list[tuple[int, int]]:
    """Record the (width, height) of every image whose pixels Pillow decodes from now on (the
    test's monkeypatch undoes it): a bomb refused by a header check never shows up here."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load

    def recording_load(image):
        sizes.append(image.size)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    return sizes


def save(path: Path, image: Image.Image, fmt: str | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, fmt, **kwargs)
    return path


# -- one image per color mode: (file name, maker, expected RGB at pixel (0, 0)) -------------------------
def _rgba(folder: Path) -> Path:
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red → white
    image.putpixel((1, 0), (0, 0, 255, 255))
    return save(folder / "rgba.png", image)


def _la(folder: Path) -> Path:
    return save(folder / "la.png", Image.new("LA", (4, 4), (0, 128)))  # black at half alpha on white


def _palette(folder: Path) -> Path:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    return save(folder / "palette.png", image)


def _palette_transparent(folder: Path) -> Path:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    image.putpixel((1, 0), 1)
    return save(folder / "palette_transparent.png", image, transparency=0)


def _gray(folder: Path) -> Path:
    return save(folder / "gray.png", Image.new("L", (4, 4), 77))


def _bilevel(folder: Path) -> Path:
    return save(folder / "bilevel.png", Image.new("1", (4, 4), 1))


def _gray16_png(folder: Path) -> Path:
    array = np.full((4, 4), 4112, dtype=np.uint16)  # 4112 / 65535 · 255 = 16: scaled, not clamped to 255
    return save(folder / "gray16.png", Image.fromarray(array))


def _gray16_tiff(folder: Path) -> Path:
    return save(folder / "gray16.tiff", Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)))


def _gray12_pgm(folder: Path) -> Path:
    path = folder / "gray12.pgm"
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((4, 4), 2048, dtype=">u2")  # 2048 of 4095: mid gray once scaled by 12 bits
    path.write_bytes(b"P5\n4 4\n4095\n" + pixels.tobytes())
    return path


def _int32_tiff(folder: Path) -> Path:
    return save(folder / "int32.tif", Image.fromarray(np.full((4, 4), 32768, dtype=np.int32)))


def _float_tiff(folder: Path) -> Path:
    return save(folder / "float.tif", Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32)))


def _cmyk(folder: Path) -> Path:
    return save(folder / "cmyk.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)), quality=100)


def _ycck(folder: Path) -> Path:
    """A YCCK JPEG: a CMYK JPEG whose Adobe marker says its first three channels are YCbCr."""
    buffer = io.BytesIO()
    Image.new("CMYK", (8, 8), (100, 127, 127, 0)).save(buffer, "JPEG", quality=100)
    data = bytearray(buffer.getvalue())
    at = data.find(b"Adobe")
    data[at + 11] = 2  # transform flag: 2 = YCCK
    path = folder / "ycck.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def _exif_rotated(folder: Path) -> Path:
    """Stored 16 wide × 8 high, left half red; orientation 6 means "rotate 90° clockwise" to
    view, so it is seen 8 wide × 16 high with the red half on top."""
    image = Image.new("RGB", (16, 8), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = 6
    return save(folder / "rotated.jpg", image, exif=exif, quality=100)


def _rgb(folder: Path) -> Path:
    return save(folder / "rgb.png", Image.new("RGB", (4, 4), (1, 2, 3)))


def _webp(folder: Path) -> Path:
    return save(folder / "rgb.webp", Image.new("RGB", (4, 4), (0, 200, 0)), lossless=True)


def _bmp(folder: Path) -> Path:
    return save(folder / "rgb.bmp", Image.new("RGB", (4, 4), (9, 8, 7)))


def _ppm(folder: Path) -> Path:
    return save(folder / "rgb.ppm", Image.new("RGB", (4, 4), (9, 8, 7)))


# name → (maker, source mode Pillow reports, expected RGB at (0, 0), expected (width, height), tolerance)
MODE_FIXTURES = {
    "rgb": (_rgb, "RGB", (1, 2, 3), (4, 4), 0),
    "rgba_on_white": (_rgba, "RGBA", (255, 255, 255), (4, 4), 0),
    "la_on_white": (_la, "LA", (127, 127, 127), (4, 4), 1),
    "palette": (_palette, "P", (10, 200, 30), (4, 4), 0),
    "palette_transparency_on_white": (_palette_transparent, "P", (255, 255, 255), (4, 4), 0),
    "gray_replicated": (_gray, "L", (77, 77, 77), (4, 4), 0),
    "bilevel": (_bilevel, "1", (255, 255, 255), (4, 4), 0),
    "gray16_png_scaled": (_gray16_png, "I;16", (16, 16, 16), (4, 4), 0),
    "gray16_tiff_scaled": (_gray16_tiff, "I;16", (255, 255, 255), (4, 4), 0),
    "gray12_pgm_scaled": (_gray12_pgm, "I", (128, 128, 128), (4, 4), 0),
    "int32_tiff_scaled_by_32_bits": (_int32_tiff, "I", (0, 0, 0), (4, 4), 0),
    "float_tiff": (_float_tiff, "F", (128, 128, 128), (4, 4), 0),
    "cmyk": (_cmyk, "CMYK", (255, 0, 0), (8, 8), 2),
    "ycck": (_ycck, "CMYK", (100, 100, 100), (8, 8), 3),
    "exif_orientation": (_exif_rotated, "RGB", (255, 0, 0), (8, 16), 8),
    "webp": (_webp, "RGB", (0, 200, 0), (4, 4), 0),
    "bmp": (_bmp, "RGB", (9, 8, 7), (4, 4), 0),
    "ppm": (_ppm, "RGB", (9, 8, 7), (4, 4), 0),
}


# -- broken files: name → (file name, bytes) ---------------------------------------------------------
def _truncated(fmt: str) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(buffer, fmt)
    data = buffer.getvalue()
    return data[: len(data) // 2]


BROKEN_FILES = {
    "empty_file": ("empty.png", b""),
    "random_bytes": ("noise.jpg", bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8))),
    "text_named_png": ("notes.png", b"this is not an image\n"),
    "html_named_jpg": ("page.jpeg", b"<html><body>404 Not Found</body></html>"),
    "truncated_png": ("cut.png", _truncated("PNG")),
    "truncated_jpeg": ("cut.jpg", _truncated("JPEG")),
    "png_header_only": ("header.png", png_bytes()[:40]),
}
BROKEN_REASONS = {
    "empty_file": "empty file",
    "random_bytes": "not a readable image",
    "text_named_png": "not a readable image",
    "html_named_jpg": "not a readable image",
    "truncated_png": "truncated",
    "truncated_jpeg": "truncated",
    "png_header_only": "not a readable image",
}


# -- a labeled folder and archives of it -------------------------------------------------------------
def write_classes(root: Path, counts: dict[str, int], size=(8, 6)) -> Path:
    """``root/<class>/<i>.png`` with ``counts[class]`` images each, colored by class."""
    for c, (name, count) in enumerate(sorted(counts.items())):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            (folder / f"{i}.png").write_bytes(png_bytes(size, (40 * c, 10 * i % 256, 90)))
    return root


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder).as_posix())
    return archive


def tar_folder(folder: Path, archive: Path, mode: str = "w") -> Path:
    with tarfile.open(archive, mode) as tf:
        for path in sorted(folder.rglob("*")):
            tf.add(path, path.relative_to(folder).as_posix(), recursive=False)
    return archive


def compressed_single(data: bytes, archive: Path) -> Path:
    opener = gzip.compress if archive.suffix == ".gz" else bz2.compress
    archive.write_bytes(opener(data))
    return archive


# -- hostile archives: name → maker(folder) -> path ---------------------------------------------------
def _zip_with(archive: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return archive


def _zip_symlink(folder: Path) -> Path:
    info = zipfile.ZipInfo("cats/link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return _zip_with(folder / "symlink.zip", [("cats/a.png", png_bytes()), (info, b"/etc/passwd")])


def _zip_encrypted(folder: Path) -> Path:
    path = _zip_with(folder / "encrypted.zip", [("cats/a.png", png_bytes())])
    data = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + flag_offset] |= 0x1
    path.write_bytes(bytes(data))
    return path


def _tar_with(archive: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(archive, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return archive


def _tar_member(name: str, kind=tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _many_files_zip(folder: Path) -> Path:
    return _zip_with(folder / "many.zip", [(f"cats/{i}.png", png_bytes()) for i in range(12)])


def _many_files_tar(folder: Path) -> Path:
    return _tar_with(folder / "many.tar", [(_tar_member(f"cats/{i}.png"), png_bytes()) for i in range(12)])


BOMB_BYTES = 3 * 1024 * 1024  # 3 MiB of zeros: compresses to a few KiB


def _bomb_zip(folder: Path) -> Path:
    with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cats/a.png", png_bytes())
        zf.writestr("cats/huge.bmp", bytes(BOMB_BYTES))
    return folder / "bomb.zip"


def _bomb_tar_gz(folder: Path) -> Path:
    return _tar_with(folder / "bomb.tar.gz", [(_tar_member("cats/huge.bmp"), bytes(BOMB_BYTES))], "w:gz")


def _bomb_gz(folder: Path) -> Path:
    return compressed_single(bytes(BOMB_BYTES), folder / "huge.bmp.gz")


def _bomb_bz2(folder: Path) -> Path:
    return compressed_single(bytes(BOMB_BYTES), folder / "huge.bmp.bz2")


def _lying_zip(folder: Path) -> Path:
    """A zip whose central directory claims a tiny size for a large entry. zipfile stops reading an
    entry at its declared size, so the lie cannot unpack more than it declares; what is left is an
    entry whose bytes do not match its checksum: refused as corrupt."""
    path = _bomb_zip(folder)
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x01\x02")  # central entry of cats/huge.bmp
    data[at + 24: at + 28] = (10).to_bytes(4, "little")  # uncompressed size: 10 bytes
    local = data.find(b"PK\x03\x04", data.find(b"cats/a.png") + 1)
    data[local + 22: local + 26] = (10).to_bytes(4, "little")
    (folder / "lying.zip").write_bytes(bytes(data))
    return folder / "lying.zip"


def _honest_zip_over_budget(folder: Path) -> Path:
    """Three entries of 400,000 bytes whose declared sizes are true: each fits the 1 MiB budget of
    HOSTILE_LIMITS, their total does not."""
    return _zip_with(folder / "honest.zip", [(f"cats/{i}.bmp", bytes(400_000)) for i in range(3)])


def _corrupt_zip(folder: Path) -> Path:
    path = _zip_with(folder / "corrupt.zip", [(f"cats/{i}.png", png_bytes()) for i in range(3)])
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x03\x04") + 40
    data[at: at + 20] = bytes(20)  # overwrite compressed data of the first entry: CRC check fails
    path.write_bytes(bytes(data))
    return path


def _truncated_tar_gz(folder: Path) -> Path:
    rng = np.random.default_rng(2)
    path = _tar_with(folder / "cut.tar.gz", [(_tar_member(f"cats/{i}.bin"), rng.bytes(20000)) for i in range(3)], "w:gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _not_an_archive(folder: Path) -> Path:
    path = folder / "data.zip"
    path.write_bytes(b"just some text, not a zip")
    return path


HOSTILE_ARCHIVES = {
    "zip_parent_path": (lambda f: _zip_with(f / "slip.zip", [("cats/a.png", png_bytes()), ("../evil.png", png_bytes())]),
                        "outside"),
    "zip_nested_parent_path": (lambda f: _zip_with(f / "slip2.zip", [("cats/../../evil.png", png_bytes())]), "outside"),
    "zip_absolute_path": (lambda f: _zip_with(f / "abs.zip", [("/tmp/evil.png", png_bytes())]), "absolute"),
    "zip_windows_drive": (lambda f: _zip_with(f / "drive.zip", [("C:\\evil.png", png_bytes())]), "absolute"),
    "zip_backslash_parent": (lambda f: _zip_with(f / "bs.zip", [("cats\\..\\..\\evil.png", png_bytes())]), "outside"),
    "zip_symlink": (_zip_symlink, "symbolic link"),
    "zip_encrypted": (_zip_encrypted, "encrypted"),
    "tar_parent_path": (lambda f: _tar_with(f / "slip.tar", [(_tar_member("../evil.png"), png_bytes())]), "outside"),
    "tar_absolute_path": (lambda f: _tar_with(f / "abs.tar", [(_tar_member("/tmp/evil.png"), png_bytes())]), "absolute"),
    "tar_symlink": (lambda f: _tar_with(f / "sym.tar", [(_tar_member("cats/x.png", tarfile.SYMTYPE, "/etc/passwd"), None)]),
                    "link"),
    "tar_hardlink": (lambda f: _tar_with(f / "hard.tar", [(_tar_member("cats/x.png", tarfile.LNKTYPE, "/etc/passwd"), None)]),
                     "link"),
    "tar_device": (lambda f: _tar_with(f / "dev.tar", [(_tar_member("cats/null", tarfile.CHRTYPE), None)]), "device"),
    "tar_fifo": (lambda f: _tar_with(f / "fifo.tar", [(_tar_member("cats/pipe", tarfile.FIFOTYPE), None)]), "device"),
    "tar_gz_parent_path": (lambda f: _tar_with(f / "slip.tgz", [(_tar_member("../evil.png"), png_bytes())], "w:gz"),
                           "outside"),
    "zip_too_many_files": (_many_files_zip, "more than 10 entries"),
    "tar_too_many_files": (_many_files_tar, "more than 10 entries"),
    "zip_too_large": (_bomb_zip, "unpacks to more than"),
    "zip_lying_about_size": (_lying_zip, "corrupt or truncated: Bad CRC-32 for file 'cats/huge.bmp'"),
    "zip_honest_sizes_over_budget": (_honest_zip_over_budget, "unpacks to more than 1,048,576 bytes"),
    "tar_gz_too_large": (_bomb_tar_gz, "unpacks to more than"),
    "gz_too_large": (_bomb_gz, "unpacks to more than"),
    "bz2_too_large": (_bomb_bz2, "unpacks to more than"),
    "zip_corrupt": (_corrupt_zip, "corrupt"),
    "tar_gz_truncated": (_truncated_tar_gz, "corrupt"),
    "not_an_archive": (_not_an_archive, "not a folder or a supported archive"),
}
HOSTILE_LIMITS = {"max_archive_files": 10, "max_unpacked_mb": 1}


# -- a messy folder, to compare with torchvision's ImageFolder ---------------------------------------
def write_messy_folder(root: Path) -> Path:
    """Mixed-case extensions, hidden non-image files, non-images, nested folders, an empty class
    folder, and a class whose name sorts before others only by case."""
    write_classes(root, {"cats": 3, "dogs": 2, "Zebras": 1})
    (root / "cats" / "UPPER.PNG").write_bytes(png_bytes())
    (root / "cats" / "Mixed.JpEg").write_bytes(_jpeg_bytes())
    save(root / "dogs" / "photo.TIF", Image.new("RGB", (5, 5), (1, 1, 1)))
    (root / "dogs" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "dogs" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "dogs" / "notes.txt").write_text("not an image")
    (root / "dogs" / "labels.csv").write_text("a,b\n")
    (root / "cats" / "deep" / "deeper").mkdir(parents=True)
    (root / "cats" / "deep" / "one.png").write_bytes(png_bytes())
    (root / "cats" / "deep" / "deeper" / "two.webp").write_bytes(_webp_bytes())
    (root / "empty_class").mkdir()
    (root / "README.md").write_text("root files are outside every class\n")
    return root


def write_hidden_and_broken(root: Path) -> Path:
    """What ImageFolder would count but visionblocks must not: dot-folders and broken images."""
    (root / ".ipynb_checkpoints").mkdir(parents=True)
    (root / ".ipynb_checkpoints" / "x-checkpoint.png").write_bytes(png_bytes())
    (root / "cats" / ".ipynb_checkpoints").mkdir(parents=True, exist_ok=True)
    (root / "cats" / ".ipynb_checkpoints" / "y-checkpoint.png").write_bytes(png_bytes())
    (root / "cats" / ".hidden.png").write_bytes(png_bytes())
    (root / "cats" / "broken.png").write_bytes(b"not really a png")
    return root


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (10, 100, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def _webp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), (10, 100, 200)).save(buffer, "WEBP")
    return buffer.getvalue()


# -- files every decoding path must read alike: textured, so a rotation, a wrong scale or a lost --
# -- transparency changes pixels; name → maker(folder) -> path -------------------------------------
def _texture(height: int, width: int, channels: int, seed: int, top: int = 256, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, top, (height, width, channels) if channels > 1 else (height, width)).astype(dtype)


def _tricky_exif_rotated(folder: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # seen rotated 90° clockwise: 24 wide × 16 high stored, 16 × 24 seen
    return save(folder / "rotated.jpg", Image.fromarray(_texture(16, 24, 3, 1)), exif=exif, quality=90)


def _tricky_gray16(folder: Path) -> Path:
    return save(folder / "gray16.png", Image.fromarray(_texture(12, 20, 1, 2, 65536, np.uint16)))


def _tricky_cmyk(folder: Path) -> Path:
    return save(folder / "cmyk.jpg", Image.fromarray(_texture(16, 16, 4, 3), "CMYK"), quality=90)


def _tricky_palette_transparent(folder: Path) -> Path:
    image = Image.fromarray(_texture(10, 14, 1, 4, 16), "L").convert("P")
    image.putpalette(_texture(16, 3, 1, 5).ravel().tolist())
    return save(folder / "palette_transparent.png", image, transparency=3)  # index 3 is see-through


def _plain_jpeg(folder: Path) -> Path:
    return save(folder / "photo.jpg", Image.fromarray(_texture(18, 22, 3, 6)), quality=90)


def _plain_gray_png(folder: Path) -> Path:
    return save(folder / "gray.png", Image.fromarray(_texture(9, 11, 1, 7)))


# Files that Convert to Image Directory converts (stored as PNG), then files it keeps byte for
# byte (plain: loaders take the short way).
TRICKY_FILES = {
    "exif_rotated_jpeg": _tricky_exif_rotated,
    "gray16_png": _tricky_gray16,
    "cmyk_jpeg": _tricky_cmyk,
    "palette_png_with_transparency": _tricky_palette_transparent,
}
PLAIN_FILES = {"plain_jpeg": _plain_jpeg, "plain_gray_png": _plain_gray_png}

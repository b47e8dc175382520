"""Convert to Image Directory: a raw folder or archive of images → an ImageDirectory.

Layout rules (designer-spec §1.1, with torchvision's ImageFolder as the reference):

- Every first-level sub-folder is a class; class ids follow the alphabetical order of the folder
  names, exactly as ImageFolder assigns them. Files in deeper folders belong to their first-level
  folder (ImageFolder walks each class folder recursively). Files directly in the root are then
  outside any class and skipped.
- With no class folder, or when no class folder holds a valid image, every image anywhere in
  the tree is taken, unlabeled (for inference).
- Names starting with a dot (``.DS_Store``, ``.ipynb_checkpoints``) are ignored at every level and
  are never classes. An empty class folder is kept (with a warning) so class ids still match.
- A file counts only if its extension is an image extension (any letter case) and it decodes.
  Every other file is skipped and listed with its reason in ``_quarantine.json``.

Stored files: an 8-bit RGB or gray PNG/JPEG without EXIF rotation is kept byte for byte; every
other image is converted by :func:`visionblocks.images.to_rgb` and stored as PNG. So every stored
file decodes to its RGB pixels without any conversion but gray → RGB (the directory is ``plain``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import UnidentifiedImageError

from visionblocks.data import archives
from visionblocks import errors, ports
from visionblocks.imagedir import ImageDirectory, ImageEntry
from visionblocks.images import DEFAULT_MAX_PIXELS, has_image_extension, is_plain, open_image, to_rgb
from visionblocks.device import usable_cores
from visionblocks.progress import Progress

QUARANTINE = "_quarantine.json"
IMAGE_FOLDER = "image"
LABELED = "class folders"
UNLABELED = "one folder"


@dataclass
class Candidate:
    path: Path
    rel: str  # relative to the input root, for reports
    label: str | None


@dataclass
class Decoded:
    candidate: Candidate
    width: int = 0
    height: int = 0
    mode: str = ""
    plain: bool = False
    staged: Path | None = None  # converted PNG waiting for its final name
    error: str | None = None


@dataclass
class ConvertReport:
    layout: str
    classes: list[str] | None
    counts: list[int]
    images: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    ignored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def class_table(self) -> list[str]:
        """The class table as text lines: id, name, image count."""
        if self.classes is None:
            return [f"unlabeled: {self.images} images"]
        width = max([len("class")] + [len(name) for name in self.classes])
        lines = [f"{'id':>4}  {'class':<{width}}  {'images':>7}"]
        lines += [f"{i:>4}  {name:<{width}}  {count:>7}" for i, (name, count) in enumerate(zip(self.classes, self.counts))]
        return lines

    def quarantine(self) -> dict:
        return {"skipped_count": len(self.skipped),
                "skipped": [{"file": file, "reason": reason} for file, reason in self.skipped],
                "ignored": self.ignored}


# -- finding the files ------------------------------------------------------------------------------
def _hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(top: Path, root: Path, ignored: list[str]) -> list[Path]:
    """Files under ``top`` in ImageFolder's order (sorted folders, then sorted names), links
    followed, dot-folders and dot-files left out (and recorded in ``ignored``)."""
    found: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:  # a link loop: ImageFolder would walk it forever
            dirnames[:] = []
            continue
        seen.add(real)
        for name in [d for d in dirnames if _hidden(d)]:
            dirnames.remove(name)
            ignored.append(_rel(Path(dirpath) / name, root) + "/")
        visible = []
        for name in filenames:
            if _hidden(name):
                ignored.append(_rel(Path(dirpath) / name, root))
            else:
                visible.append(name)
        found.append((dirpath, visible))
    return [Path(dirpath) / name for dirpath, names in sorted(found) for name in sorted(names)]


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def class_folders(root: Path) -> list[str]:
    """First-level folders that are classes, in class-id order (as ImageFolder.find_classes)."""
    return sorted(entry.name for entry in os.scandir(root) if entry.is_dir() and not _hidden(entry.name))


def _candidates(paths: list[Path], root: Path, label: str | None, skipped: list[tuple[str, str]]) -> list[Candidate]:
    result = []
    for path in paths:
        if has_image_extension(path.name):
            result.append(Candidate(path, _rel(path, root), label))
        else:
            skipped.append((_rel(path, root), "not an image file extension"))
    return result


# -- decoding -------------------------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "not a readable image (format not recognised)"
    text = str(exc)
    if "truncated" in text:
        return "truncated image"
    return f"cannot be decoded ({type(exc).__name__}: {text})" if text else f"cannot be decoded ({type(exc).__name__})"


def _decode(candidate: Candidate, staging: Path, index: int, max_pixels: int | None) -> Decoded:
    """Decode one file fully; convert and stage it as PNG unless it is plain already."""
    result = Decoded(candidate)
    try:
        if candidate.path.stat().st_size == 0:
            result.error = "empty file"
            return result
        with open(candidate.path, "rb") as fh:
            head = fh.read(32)
        image = open_image(candidate.path, max_pixels)
    except errors.ModuleError:
        raise  # over the pixel limit: refuse the whole input
    except Exception as exc:  # Pillow raises many types for broken files; all mean "skip it"
        result.error = _reason(exc)
        return result
    with image:
        result.mode = image.mode
        result.plain = is_plain(image, head)
        if result.plain:
            result.width, result.height = image.size
            return result
        try:
            rgb = to_rgb(image)
        except Exception as exc:
            result.error = _reason(exc)
            return result
        result.width, result.height = rgb.size
        result.staged = staging / f"{index}.png"
        rgb.save(result.staged, compress_level=1)  # written once, read every epoch: fast to decode
    return result


def _decode_all(candidates: list[Candidate], staging: Path, max_pixels, progress: Progress,
                done: dict[Path, Decoded]) -> list[Decoded]:
    todo = [c for c in candidates if c.path not in done]
    workers = min(8, usable_cores())
    pool = ThreadPoolExecutor(max_workers=workers)  # Pillow releases the GIL while decoding
    try:
        offset = len(done)
        with progress.bar(len(todo), "decoding", unit="file") as bar:
            for decoded in pool.map(lambda ic: _decode(ic[1], staging, offset + ic[0], max_pixels), enumerate(todo)):
                done[decoded.candidate.path] = decoded
                bar.advance()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [done[c.path] for c in candidates]


# -- the whole conversion ---------------------------------------------------------------------------
def _dataset_root(extracted: Path) -> Path:
    """An archive made by zipping a folder holds that one folder: use it as the root."""
    entries = [e for e in extracted.iterdir() if not _hidden(e.name)]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return extracted


def convert(source: str | Path, out: str | Path, strict: bool = False, max_pixels: int | None = DEFAULT_MAX_PIXELS,
            max_files: int = archives.DEFAULT_MAX_FILES, max_bytes: int = archives.DEFAULT_MAX_BYTES,
            progress: Progress | None = None) -> ConvertReport:
    """Convert the folder or archive ``source`` into the empty folder ``out`` (an ImageDirectory)."""
    source, out = Path(source), Path(out)
    progress = progress or Progress("convert-to-image-directory")
    if not source.exists():
        raise errors.NullOrEmptyError(f"Input dataset {source} does not exist.")
    if source.is_dir() and ports.port_type_of(source) == ports.IMAGE_DIRECTORY:
        raise errors.InvalidDatasetError(f"{source} is already an ImageDirectory.",
                                         hint="Connect it directly to the next module.")
    work = Path(tempfile.mkdtemp(prefix=".convert-", dir=out))
    try:
        if source.is_dir():
            root = source
        else:
            extracted = work / "extracted"
            extracted.mkdir()
            archives.extract(source, extracted, max_files, max_bytes)
            root = _dataset_root(extracted)
            progress.log(f"extracted {source.name}")
        staging = work / "staged"
        staging.mkdir()
        report, decoded = _scan_and_decode(root, source, staging, max_pixels, progress)
        if strict and report.skipped:
            listed = "; ".join(f"{file}: {reason}" for file, reason in report.skipped[:10])
            more = f" (and {len(report.skipped) - 10} more)" if len(report.skipped) > 10 else ""
            raise errors.FileParsingFailedError(
                f"Strict mode: {len(report.skipped)} file(s) would be skipped: {listed}{more}.",
                hint="Remove or fix these files, or turn Strict off to skip them.")
        _write(out, decoded, report, move=not source.is_dir())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for line in report.class_table():
        progress.log(line)
    for warning in report.warnings:
        progress.log(f"warning: {warning}")
    if report.skipped:
        progress.log(f"skipped {len(report.skipped)} file(s); see {QUARANTINE}")
    return report


def _scan_and_decode(root: Path, source: Path, staging: Path, max_pixels, progress: Progress):
    ignored: list[str] = []
    skipped: list[tuple[str, str]] = []
    done: dict[Path, Decoded] = {}
    classes = class_folders(root)
    if classes:
        top = sorted(root.iterdir())
        outside = [p for p in top if p.is_file() and not _hidden(p.name)]
        ignored += [p.name + ("/" if p.is_dir() else "") for p in top if _hidden(p.name)]
        per_class = [_candidates(_walk(root / name, root, ignored), root, name, skipped) for name in classes]
        decoded = _decode_all([c for group in per_class for c in group], staging, max_pixels, progress, done)
        if any(d.error is None for d in decoded):
            for path in outside:
                skipped.append((path.name, "outside any class folder"))
            return _finish(LABELED, classes, decoded, skipped, ignored)
        progress.log("no class folder holds a valid image: reading every image, unlabeled")
        ignored, skipped = [], []
    candidates = _candidates(_walk(root, root, ignored), root, None, skipped)
    decoded = _decode_all(candidates, staging, max_pixels, progress, done)
    if not candidates and not skipped:
        raise errors.NullOrEmptyError(f"Input dataset {source.name} holds no file.",
                                      hint="Put images in class folders (for training) or in one folder (for scoring).")
    return _finish(UNLABELED, None, decoded, skipped, ignored)


def _finish(layout: str, classes: list[str] | None, decoded: list[Decoded], skipped, ignored):
    valid = [d for d in decoded if d.error is None]
    skipped = skipped + [(d.candidate.rel, d.error) for d in decoded if d.error is not None]
    skipped.sort()
    if not valid:
        reasons = "; ".join(f"{file}: {reason}" for file, reason in skipped[:5])
        raise errors.TooFewRowsInDatasetError(
            f"No valid image found ({len(skipped)} file(s) skipped{': ' + reasons if reasons else ''}).",
            hint="Supported: .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp files that open as images.")
    counts = [sum(1 for d in valid if d.candidate.label == name) for name in classes] if classes else [len(valid)]
    report = ConvertReport(layout, classes, counts, len(valid), skipped, sorted(ignored))
    if classes:
        for name, count in zip(classes, counts):
            if count == 0:
                report.warnings.append(f"class folder '{name}' holds no valid image; the class is kept so "
                                       "class ids match ImageFolder")
    return report, valid


def _write(out: Path, decoded: list[Decoded], report: ConvertReport, move: bool) -> None:
    images = out / IMAGE_FOLDER
    images.mkdir()
    class_id = {name: i for i, name in enumerate(report.classes or [])}
    entries = []
    for index, item in enumerate(decoded):
        suffix = item.candidate.path.suffix.lower() if item.plain else ".png"
        prefix = f"{class_id[item.candidate.label]}_" if item.candidate.label is not None else ""
        name = f"{IMAGE_FOLDER}/{prefix}{index}{suffix}"
        if item.staged is not None:
            item.staged.rename(out / name)
        elif move:
            shutil.move(item.candidate.path, out / name)
        else:
            shutil.copyfile(item.candidate.path, out / name)  # a copy: later edits of the input stay out
        entries.append(ImageEntry(index, name, item.candidate.label, item.width, item.height, item.mode,
                                  item.candidate.rel))
    (out / QUARANTINE).write_text(json.dumps(report.quarantine(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    ImageDirectory.write(out, entries, report.classes, plain=True)


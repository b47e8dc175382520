"""Port types and the one rule every output follows: a directory with ``_meta.yaml``.

The ``type`` key of ``_meta.yaml`` says what the directory holds, so any output of one run can
feed a later run, and a wrong connection is refused before anything runs. Outputs are written
into a temporary sibling and renamed into place, so an interrupted run never leaves a
half-written directory that looks complete.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import yaml

from visionblocks import errors
from visionblocks.units import MIB

IMAGE_DIRECTORY = "ImageDirectory"
TRANSFORMATION_DIRECTORY = "TransformationDirectory"
UNTRAINED_MODEL_DIRECTORY = "UntrainedModelDirectory"
MODEL_DIRECTORY = "ModelDirectory"
DATAFRAME_DIRECTORY = "DataFrameDirectory"
# Raw input of Convert to Image Directory: any folder or archive file, no _meta.yaml needed.
ANY_DIRECTORY = "AnyDirectory"

PORT_TYPES = {
    IMAGE_DIRECTORY: "Images with an image list, a schema and optional labels.",
    TRANSFORMATION_DIRECTORY: "An ordered list of image transformations.",
    UNTRAINED_MODEL_DIRECTORY: "A model architecture and its options, not trained yet.",
    MODEL_DIRECTORY: "A trained model: weights, configuration and class names.",
    DATAFRAME_DIRECTORY: "A table stored as Parquet.",
    ANY_DIRECTORY: "A raw folder or archive (zip, tar, gz, bz2).",
}

META_FILE = "_meta.yaml"
# The [op, args] list of a TransformationDirectory, a transformed ImageDirectory and a ModelDirectory.
TRANSFORMS_FILE = "_transforms.json"


def compatible(source_type: str, target_type: str) -> bool:
    """Can an output of ``source_type`` feed an input of ``target_type``?"""
    return target_type == ANY_DIRECTORY or source_type == target_type


def write_meta(folder: Path, type_name: str, **extra) -> None:
    if type_name not in PORT_TYPES:
        raise ValueError(f"unknown port type {type_name!r}")
    meta = {"type": type_name, **extra}
    (Path(folder) / META_FILE).write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8")


def read_meta(folder: Path) -> dict:
    path = Path(folder) / META_FILE
    if not path.is_file():
        return {}
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise errors.FileParsingFailedError(f"{path} is not valid YAML: {exc}") from exc
    return meta if isinstance(meta, dict) else {}


def port_type_of(folder: Path) -> str | None:
    return read_meta(folder).get("type")


def require_type(folder: Path, expected: str, port_label: str, error=None) -> dict:
    """Check that ``folder`` holds ``expected``; return its meta or raise a clear error."""
    folder = Path(folder)
    if not folder.exists():
        raise errors.NullOrEmptyError(f"Input '{port_label}': {folder} does not exist.")
    meta = read_meta(folder)
    found = meta.get("type")
    if found != expected:
        what = f"a {found}" if found else f"no {META_FILE} with a type"
        exc = error or errors.InvalidDatasetError
        raise exc(
            f"Input '{port_label}' expects a {expected}, but {folder} holds {what}.",
            hint=f"Connect the output of a module that produces a {expected}.",
        )
    return meta


# A full disk or an exhausted quota: the user can free space, so it is a designer error, not a bug.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def require_output_folder(folder: Path) -> Path:
    """``folder`` as a folder outputs can go in (made if missing), or InvalidPathForDirectoryCreation
    (0046) when it is a file, lies under a file or cannot be made."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise errors.InvalidPathForDirectoryCreationError(
            f"The output folder {folder} is an existing file, not a folder.",
            hint="Name a new folder, or an existing folder, for the outputs.") from None
    except OSError as exc:
        raise errors.InvalidPathForDirectoryCreationError(
            f"The output folder {folder} cannot be made: {exc.strerror or exc}.",
            hint="Name a folder you can write to, whose parents are folders.") from None
    return folder


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``final`` only if the block succeeds.

    Whatever stops the block (an error, a full disk, a kill) leaves the previous ``final``
    as it was; a full disk is FailedToWriteOutputs (0160) saying so."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    try:
        yield tmp
        _publish(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            kept = f"the previous output at {final} is left as it was" if final.exists() else "nothing was published"
            raise errors.FailedToWriteOutputsError(
                f"The disk is full while writing {final}: {exc.strerror or exc}; {kept}.",
                hint="Free some space on the output folder's disk and run again.") from exc
        raise


def _publish(tmp: Path, final: Path) -> None:
    """Rename the finished ``tmp`` to ``final``; an old ``final`` is moved aside first, so a crash
    between the two renames loses nothing (the old output stays as ``.<name>.old-<pid>``)."""
    if not final.exists():
        tmp.rename(final)
        return
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    final.rename(old)
    try:
        tmp.rename(final)
    except BaseException:
        old.rename(final)  # put the previous output back
        raise
    shutil.rmtree(old, ignore_errors=True)


def link_or_copy(source: Path, target: Path) -> None:
    """Put ``source``'s bytes at ``target``, making its folder if needed: a hard link when both
    are on one disk (the same bytes without a copy), else a copy."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def directory_hash(folder: Path) -> str:
    """A content hash of every file under ``folder`` (names and bytes), order-independent."""
    folder = Path(folder)
    digest = hashlib.sha256()
    if folder.is_file():
        paths = [folder]
        base = folder.parent
    else:
        paths = sorted(p for p in folder.rglob("*") if p.is_file())
        base = folder
    for path in paths:
        digest.update(str(path.relative_to(base).as_posix()).encode())
        digest.update(b"\0")
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(MIB), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()

"""Safe extraction of the archives Convert to Image Directory accepts.

Formats: ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``/``.tbz2``, and a single file
compressed with ``.gz`` or ``.bz2`` (a ``.gz``/``.bz2`` holding a tar is read as a tar, whatever
its name). Formats are recognised by their content, so a misnamed archive still opens.

An archive is refused with InvalidZipFile (0102), and the caller deletes whatever was
extracted, when:

- an entry would land outside the target folder (``../``, an absolute path, a drive letter),
- an entry is a symbolic link, a hard link or a device/pipe,
- an entry is encrypted,
- it holds more than ``max_files`` entries or unpacks to more than ``max_bytes`` (counted while
  unpacking, so an archive that lies about its sizes is stopped too),
- it is corrupt or truncated.

macOS resource-fork folders (``__MACOSX/``) are not extracted.
"""

from __future__ import annotations

import bz2
import gzip
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from visionblocks import errors
from visionblocks.units import MIB

DEFAULT_MAX_FILES = 1_000_000
DEFAULT_MAX_BYTES = 20 * 1024 ** 3  # 20 GiB
SKIPPED_TOP_FOLDERS = ("__MACOSX",)
_CHUNK = MIB
_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_DRIVE = re.compile(r"^[A-Za-z]:")
_MAX_NAME_BYTES = 255  # one path component, on every common file system


def _refuse(archive: Path, reason: str, hint: str | None = None) -> errors.ModuleError:
    return errors.InvalidZipFileError(f"Archive {archive.name} was refused: {reason}.",
                                      hint=hint or "Nothing was extracted. Repack the archive without that entry.")


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar', 'gz', 'bz2', or None when ``path`` is not an archive, judged by content."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith(_GZIP_MAGIC):
        return "gz"
    if head.startswith(_BZIP2_MAGIC):
        return "bz2"
    if len(head) == 512 and _is_tar_header(head):
        return "tar"
    if zipfile.is_zipfile(path):  # last: a zip is recognised by its end, which other files may mimic
        return "zip"
    return None


def _is_tar_header(block: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        return True
    except tarfile.HeaderError:
        return False


def safe_member_path(archive: Path, name: str) -> PurePosixPath | None:
    """The relative path an entry may be written to, None for the root itself; refuses escapes."""
    name = name.replace("\\", "/")
    if "\x00" in name:
        raise _refuse(archive, f"entry {name!r} has a NUL character in its name")
    if name.startswith("/") or _DRIVE.match(name):
        raise _refuse(archive, f"entry {name!r} has an absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(archive, f"entry {name!r} points outside the archive folder")
    if any(len(os.fsencode(part)) > _MAX_NAME_BYTES for part in parts):
        raise _refuse(archive, f"entry {name[:80]!r}... has a name longer than a file system allows")
    return PurePosixPath(*parts) if parts else None


class _Budget:
    """Counts entries and unpacked bytes against the limits."""

    def __init__(self, archive: Path, max_files: int, max_bytes: int):
        self.archive, self.max_files, self.max_bytes = archive, max_files, max_bytes
        self.files = 0
        self.bytes = 0

    def add_file(self) -> None:
        self.files += 1
        if self.files > self.max_files:
            raise _refuse(self.archive, f"it holds more than {self.max_files:,} entries",
                          hint="Split the archive, or raise the maximum number of files if it is trusted.")

    def add_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.max_bytes:
            raise _refuse(self.archive, f"it unpacks to more than {self.max_bytes:,} bytes",
                          hint="Split the archive, or raise the maximum unpacked size if it is trusted.")


def _copy_limited(source: BinaryIO, dest: Path, budget: _Budget) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        while block := source.read(_CHUNK):
            budget.add_bytes(len(block))
            out.write(block)


def _skipped(rel: PurePosixPath) -> bool:
    return rel.parts[0] in SKIPPED_TOP_FOLDERS


def _extract_zip(archive: Path, target: Path, budget: _Budget) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > budget.max_files:
            budget.files = len(infos) - 1
            budget.add_file()
        declared = sum(info.file_size for info in infos)
        if declared > budget.max_bytes:
            budget.add_bytes(declared)
        for info in infos:  # check every entry before writing anything
            safe_member_path(archive, info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _refuse(archive, f"entry {info.filename!r} is a symbolic link")
            if info.flag_bits & 0x1:
                raise _refuse(archive, f"entry {info.filename!r} is encrypted")
        for info in infos:
            rel = safe_member_path(archive, info.filename)
            if rel is None or _skipped(rel):
                continue
            budget.add_file()
            if info.is_dir():
                (target / rel).mkdir(parents=True, exist_ok=True)
                continue
            with zf.open(info) as source:
                _copy_limited(source, target / rel, budget)


def _extract_tar(archive: Path, target: Path, budget: _Budget) -> None:
    with tarfile.open(archive, mode="r:*") as tf:
        while (member := tf.next()) is not None:
            rel = safe_member_path(archive, member.name)
            if member.issym() or member.islnk():
                raise _refuse(archive, f"entry {member.name!r} is a link")
            if not (member.isreg() or member.isdir()):
                raise _refuse(archive, f"entry {member.name!r} is a device, pipe or other special file")
            budget.add_file()
            tf.members.clear()  # tarfile keeps every header otherwise; a million entries is a lot
            if rel is None or _skipped(rel):
                continue
            if member.isdir():
                (target / rel).mkdir(parents=True, exist_ok=True)
                continue
            source = tf.extractfile(member)
            if source is not None:
                with source:
                    _copy_limited(source, target / rel, budget)


def _single_name(archive: Path, suffixes: tuple[str, ...]) -> str:
    name = archive.name
    for suffix in suffixes:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name + ".data"


def _extract_compressed(archive: Path, target: Path, budget: _Budget, kind: str) -> None:
    opener = gzip.open if kind == "gz" else bz2.open
    with opener(archive, "rb") as stream:
        head = stream.read(512)
    if len(head) == 512 and _is_tar_header(head):
        _extract_tar(archive, target, budget)
        return
    name = _single_name(archive, (".gz", ".gzip") if kind == "gz" else (".bz2", ".bzip2"))
    budget.add_file()
    with opener(archive, "rb") as stream:
        _copy_limited(stream, target / name, budget)


def extract(archive: str | Path, target: str | Path, max_files: int = DEFAULT_MAX_FILES,
            max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Extract ``archive`` into the existing folder ``target`` and return ``target``.

    On any refusal or read error the caller's ``target`` may hold a partial extraction; delete it.
    """
    archive, target = Path(archive), Path(target)
    kind = archive_kind(archive)
    if kind is None:
        raise errors.InvalidZipFileError(
            f"{archive.name} is not a folder or a supported archive (zip, tar, tar.gz, tgz, gz, bz2, tar.bz2).")
    budget = _Budget(archive, max_files, max_bytes)
    try:
        if kind == "zip":
            _extract_zip(archive, target, budget)
        elif kind == "tar":
            _extract_tar(archive, target, budget)
        else:
            _extract_compressed(archive, target, budget, kind)
    except errors.ModuleError:
        raise
    except OSError as exc:
        if exc.errno is not None:
            raise  # the disk, not the archive (no space left, permissions)
        raise errors.InvalidZipFileError(f"Archive {archive.name} is corrupt or truncated: {exc}",
                                         hint="Check that the archive opens on your computer, and upload it again.") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error,
            ValueError, NotImplementedError, RuntimeError) as exc:
        raise errors.InvalidZipFileError(f"Archive {archive.name} is corrupt or truncated: {exc}",
                                         hint="Check that the archive opens on your computer, and upload it again.") from exc
    return target

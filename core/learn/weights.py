"""Pretrained weights: which file an architecture needs, where it is cached, and fetching it safely.

Which file: the ``weights`` of the architecture's registered
:class:`~visionblocks.spec.ArchitectureSpec` — a URL, or a torchvision weights name whose URL
torchvision publishes (the built-in ResNet and DenseNet architectures: IMAGENET1K_V1).

Pretrained weights live where torchvision itself caches them, ``<torch hub dir>/checkpoints/<file
name>`` (``$TORCH_HOME/hub`` by default), under torchvision's published file name, for example
``resnet18-f37072fd.pth``. The part after the dash is the start of the file's SHA-256, so a
download is checked against the name it was asked for, and the cache is keyed by the checksum.
An architecture that gives its ``sha256`` keeps that key too: when its file's name does not carry
that checksum, the cache name gets it (``net.pth`` is cached as ``net-<first 16 hex digits>.pth``),
so two architectures publishing different files under one name never share a cache entry, and
its cached file is checked against that ``sha256`` every time it is used.

When the file is missing, :func:`fetch` downloads it:

- from torchvision's published address, or from a mirror: ``VISIONBLOCKS_WEIGHTS_MIRROR`` (or the
  ``mirror`` argument) is a base URL, or a local folder, holding the files under the same names;
- streamed, with a progress bar, into a temporary file next to the cache file, whose SHA-256 is
  checked before it is renamed into place: an interrupted, cut-off, failed or tampered download
  leaves nothing in the cache, and the error says why;
- never when downloads are off: ``VISIONBLOCKS_OFFLINE=1`` (``HF_HUB_OFFLINE=1``, which air-gapped
  machines often set already, counts too) makes a missing file an error that names the file and
  where to put it.

The file is then read by the caller with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from visionblocks import errors, plugin_host
from visionblocks.progress import Progress

OFFLINE_ENV = "VISIONBLOCKS_OFFLINE"
# Other switches that mean "this machine must not download"; the first that is on is named in errors.
OFFLINE_ENVS = (OFFLINE_ENV, "HF_HUB_OFFLINE")
MIRROR_ENV = "VISIONBLOCKS_WEIGHTS_MIRROR"
_TRUE = {"1", "true", "yes", "on"}

# The designer's "Pretrained = True" is torchvision's legacy ``pretrained=True``: IMAGENET1K_V1.
PRETRAINED_WEIGHTS = "IMAGENET1K_V1"
# torch.hub's rule for the hash in a file name: ``name-<hex>.ext``.
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")
_CHUNK = 1 << 16
# Seconds to wait for the server to connect, or between two pieces of the body.
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WeightsFile:
    """The published weights of one architecture: where they are published, and their name.

    ``sha256`` is the expected SHA-256 (or its start) when the architecture gives one; otherwise
    the hash in the file name (torch hub's rule) is what a download is checked against."""

    architecture: str
    url: str
    sha256: str | None = None

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def cache_name(self) -> str:
        """The file's name in the cache: the published name when it carries the file's checksum
        (the start of the given ``sha256``, or any when none is given), else the published name
        with the first 16 hex digits of ``sha256`` before its extension."""
        carried = _HASH_IN_NAME.search(self.file_name)
        if not self.sha256 or (carried and _same_start(carried.group(1), self.sha256)):
            return self.file_name
        stem, dot, extension = self.file_name.rpartition(".")
        key = self.sha256[:16]
        return f"{stem}-{key}{dot}{extension}" if stem else f"{self.file_name}-{key}"

    @property
    def sha256_prefix(self) -> str | None:
        """The start of the file's SHA-256 (given, or carried by its name), or None when unknown."""
        if self.sha256:
            return self.sha256
        match = _HASH_IN_NAME.search(self.file_name)
        return match.group(1) if match else None


def _same_start(one: str, other: str) -> bool:
    """Whether two starts of SHA-256 digests agree as far as both go."""
    return one.startswith(other) or other.startswith(one)


def architectures() -> list[str]:
    """Every registered architecture with pretrained weights, in registration order."""
    return [spec.name for spec in plugin_host.get_architectures() if spec.weights]


def weights_file(architecture: str) -> WeightsFile:
    """The pretrained weights file of ``architecture`` (NotInRangeValue, 0008, for an unknown
    architecture or one without pretrained weights)."""
    registry = plugin_host.get_architectures()
    spec = registry.get(architecture) if architecture in registry else None
    if spec is None or not spec.weights:
        raise errors.NotInRangeValueError(
            f"Unknown architecture {architecture!r}, or one without pretrained weights; known: "
            f"{', '.join(architectures())}.")
    return WeightsFile(architecture, _url(spec.weights), spec.sha256)


def _url(weights: str) -> str:
    """A URL as it is; a torchvision weights name (``ResNet18_Weights.IMAGENET1K_V1``) as the
    address torchvision publishes the file at."""
    if "://" in weights:
        return weights
    from torchvision.models import get_weight

    return get_weight(weights).url


def cache_dir() -> Path:
    """The folder torchvision caches weights in: ``torch.hub.get_dir()/checkpoints``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_path(architecture: str) -> Path:
    """Where the weights of ``architecture`` are cached (whether or not the file is there)."""
    return cache_dir() / weights_file(architecture).cache_name


def offline_switch() -> str | None:
    """The environment variable that turns downloads off (``NAME=value``), or None when they are on."""
    for name in OFFLINE_ENVS:
        value = os.environ.get(name, "").strip()
        if value.lower() in _TRUE:
            return f"{name}={value}"
    return None


def mirror_from_env() -> str | None:
    return os.environ.get(MIRROR_ENV, "").strip() or None


def source_of(file: WeightsFile, mirror: str | None) -> str:
    """Where ``file`` is downloaded from: the mirror's base plus the file name, else torchvision's URL."""
    if not mirror:
        return file.url
    return f"{mirror.rstrip('/')}/{file.file_name}" if _is_url(mirror) else str(Path(mirror).expanduser() / file.file_name)


def fetch(architecture: str, *, mirror: str | None = None, offline: bool | None = None,
          progress: Progress | None = None) -> Path:
    """The cached weights file of ``architecture``, downloaded first when it is missing.

    ``mirror`` defaults to ``$VISIONBLOCKS_WEIGHTS_MIRROR``; ``offline`` to the offline switches.
    A missing file while offline, any failed download, and a cached file whose SHA-256 is not
    the ``sha256`` its architecture gives, is CouldNotOpenFile (0048).
    """
    file = weights_file(architecture)
    path = cache_dir() / file.cache_name
    if path.is_file():
        return _checked(path, file)
    switch = offline_switch() if offline is None else (OFFLINE_ENV + "=1" if offline else None)
    if switch:
        raise errors.CouldNotOpenFileError(
            f"Pretrained weights for {architecture} ({file.file_name}) are not at {path}, and downloads are "
            f"off ({switch}).",
            hint=f"Copy {file.file_name} to {path} (on a machine with internet, `visionblocks weights fetch "
                 f"{architecture}` puts it in that machine's cache; `visionblocks weights path {architecture}` "
                 "prints where it goes), set the weights path parameter to where the file is, or set Pretrained "
                 "to false.")
    source = source_of(file, mirror if mirror is not None else mirror_from_env())
    return download(source, path, file.sha256_prefix, progress)


def _checked(path: Path, file: WeightsFile) -> Path:
    """``path``, the cached weights of ``file``, once its bytes match the ``sha256`` the
    architecture gives (a file copied there by hand, or changed since it was downloaded, is
    caught here). Without a given ``sha256`` the download was checked against the file's name."""
    if file.sha256:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        if not digest.startswith(file.sha256):
            raise errors.CouldNotOpenFileError(
                f"The cached pretrained weights {path} of {file.architecture} have the SHA-256 {digest}, which "
                f"does not start with {file.sha256} as the architecture gives: the file is damaged or is not "
                "the published one.",
                hint=f"Delete {path}; the next run downloads it again (or `visionblocks weights fetch "
                     f"{file.architecture}`).")
    return path


def download(source: str, path: Path, sha256_prefix: str | None, progress: Progress | None = None) -> Path:
    """Copy ``source`` (an http(s) URL or a local file) to ``path``, checked against ``sha256_prefix``.

    The bytes go to a temporary file in ``path``'s folder and are renamed to ``path`` only once the
    whole file has arrived and its SHA-256 starts with ``sha256_prefix``; on any failure the
    temporary file is removed, so the cache never holds a partial or wrong file.
    """
    if not sha256_prefix:
        raise errors.CouldNotOpenFileError(
            f"{path.name} carries no SHA-256 prefix in its name, so a download of it could not be checked.",
            hint=f"Put the file at {path} by hand.")
    progress = progress or Progress("weights")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _copy(source, out, path.name, progress)
            out.flush()
            os.fsync(out.fileno())
        if not digest.startswith(sha256_prefix):
            raise _TransferFailed(f"its SHA-256 is {digest}, which does not start with {sha256_prefix} as expected: "
                                  "the file is damaged or is not the published one")
        os.replace(temp, path)
    except _TransferFailed as exc:
        raise errors.CouldNotOpenFileError(
            f"Downloading pretrained weights from {source} failed: {exc}. Nothing was written to {path.parent}.",
            hint=f"Try again, set {MIRROR_ENV} to a mirror that holds {path.name}, or copy the file to {path} "
                 "by hand.") from exc.__cause__
    finally:
        temp.unlink(missing_ok=True)
    progress.log(f"saved {path}")
    return path


def _copy(source: str, out, name: str, progress: Progress) -> str:
    """Stream ``source`` into the open file ``out``; the hex SHA-256 of what arrived."""
    sha = hashlib.sha256()
    with _open(source) as (total, chunks), progress.bar(_kilobytes(total), f"downloading {name}", "kilobyte") as bar:
        received = 0
        for chunk in chunks:
            out.write(chunk)
            sha.update(chunk)
            before, received = received, received + len(chunk)
            bar.advance(_kilobytes(received) - _kilobytes(before))
        if total is not None and received != total:
            raise _TransferFailed(f"the transfer stopped after {received} of {total} bytes")
    return sha.hexdigest()


@contextmanager
def _open(source: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
    """``(size or None, chunks)`` of ``source``; every failure to get its bytes is 0048."""
    if not _is_url(source):
        local = Path(urlparse(source).path if source.startswith("file:") else source)
        try:
            handle = open(local, "rb")
        except OSError as exc:
            raise _TransferFailed(f"it could not be opened ({exc.strerror or exc})") from exc
        with handle:
            yield os.fstat(handle.fileno()).st_size, iter(lambda: handle.read(_CHUNK), b"")
        return
    import httpx

    try:
        with httpx.stream("GET", source, follow_redirects=True, timeout=TIMEOUT_S) as response:
            if response.status_code != 200:
                raise _TransferFailed(f"the server answered {response.status_code} {response.reason_phrase}")
            # A compressed body arrives longer than its Content-Length; its hash still checks it.
            encoded = response.headers.get("Content-Encoding", "identity") != "identity"
            length = None if encoded else response.headers.get("Content-Length")
            # Reading the body happens in the caller's block, so a cut-off transfer raises here too.
            yield (int(length) if length and length.isdigit() else None), response.iter_bytes(_CHUNK)
    except httpx.HTTPError as exc:
        raise _TransferFailed(f"the transfer failed ({type(exc).__name__}: {exc})") from exc


class _TransferFailed(Exception):
    """Why the bytes of a weights file did not arrive whole; :func:`download` reports it as 0048."""


def _kilobytes(size: int | None) -> int:
    return 0 if size is None else -(-size // 1000)


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")

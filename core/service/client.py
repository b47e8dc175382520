"""Score images with a running ``visionblocks serve`` from Python (the CLI's ``score`` uses it too).

    from visionblocks.service.client import Client

    with Client("http://127.0.0.1:8000", key="...") as client:
        rows = client.score(["cat.jpg", "dog.png"])
    rows[0]["Scored Labels"], rows[0]["top_k"]

Images may be paths, bytes of an image file, or PIL images; they are sent as one multipart
request, and the rows come back in the same order (their shape is described in
:mod:`visionblocks.service.formats`). An error answer raises :class:`ServiceError`, which carries
the HTTP status and the designer error code, so the CLI prints it like any other error.
"""

from __future__ import annotations

import io
import mimetypes
import time
from pathlib import Path
from typing import Iterable, Union

import httpx

from visionblocks import errors

ImageLike = Union[str, Path, bytes, "PIL.Image.Image"]  # noqa: F821 - PIL is imported lazily


class ServiceError(errors.ModuleError):
    """An error answered by the service: ``status`` (HTTP) plus the designer ``code`` and ``name``."""

    def __init__(self, status: int, code: int, name: str, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.name = name


class Client:
    """A connection to one service. ``url``: its base address (a trailing ``/score`` is fine);
    ``key``: the service key, if it has one; ``timeout``: seconds per request."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 60.0):
        self.url = url.rstrip("/").removesuffix("/score")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def score(self, images: ImageLike | Iterable[ImageLike], top_k: int | None = None) -> list[dict]:
        """One row per image, in order: ``Scored Labels``, ``Scored Probabilities_<class>``, ``top_k``."""
        if isinstance(images, (str, Path, bytes)) or hasattr(images, "save"):
            images = [images]
        files = [("images", _as_file(image, n)) for n, image in enumerate(images, 1)]
        params = {"top_k": top_k} if top_k else None
        return self._request("POST", "/score", files=files, params=params)["Results"]["WebServiceOutput0"]

    def health(self) -> dict:
        return self._request("GET", "/health")

    def metadata(self) -> dict:
        return self._request("GET", "/metadata")

    def metrics(self) -> dict:
        """The service's JSON metrics (``/metrics.json``; ``/metrics`` is for Prometheus)."""
        return self._request("GET", "/metrics.json")

    def wait_until_ready(self, timeout: float = 30.0) -> dict:
        """Poll ``/health`` until the service answers (it loads its model first); return the answer."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.health()
            except errors.ModuleError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _request(self, method: str, path: str, **kwargs):
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise errors.FailedToCompleteOperationError(
                f"Could not reach the service at {self.url}: {exc or type(exc).__name__}.",
                hint="Check the URL, and that `visionblocks serve` is running.") from exc
        if response.status_code >= 400:
            raise _service_error(response)
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"


def score(url: str, images: ImageLike | Iterable[ImageLike], key: str | None = None,
          top_k: int | None = None) -> list[dict]:
    """One-shot :meth:`Client.score`."""
    with Client(url, key) as client:
        return client.score(images, top_k)


def _as_file(image: ImageLike, n: int) -> tuple[str, bytes, str]:
    """(file name, bytes, content type) for a multipart part."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        return path.name, path.read_bytes(), mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if isinstance(image, (bytes, bytearray)):
        return f"image-{n}", bytes(image), "application/octet-stream"
    if hasattr(image, "save"):  # a PIL image: sent losslessly
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return f"image-{n}.png", buffer.getvalue(), "image/png"
    raise TypeError(f"cannot send {type(image).__name__} as an image: give a path, bytes or a PIL image")


def _service_error(response: httpx.Response) -> ServiceError:
    try:
        error = response.json()["error"]
        return ServiceError(response.status_code, int(error["code"]), error["name"], error["message"],
                            error.get("hint"))
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:500] or response.reason_phrase
        return ServiceError(response.status_code, errors.ModuleError.code, errors.ModuleError.name,
                            f"HTTP {response.status_code}: {text}")

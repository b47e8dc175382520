"""What one request may cost the service, and the checks that enforce it before the cost is paid.

Every limit is checked at the cheapest point: the body size from ``Content-Length`` before a
byte is read (and again while streaming, for chunked bodies), the image count right after
parsing, the pixels of each image from its header before it is decoded (so a decompression bomb
costs a few hundred bytes of parsing), and the time of the whole request by a deadline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from visionblocks import errors
from visionblocks.units import MIB
from visionblocks.service.formats import Rejected



@dataclass(frozen=True)
class Limits:
    """Per-request limits and the batching queue's size.

    ``max_body_bytes``: the largest request body (base64 JSON is about 4/3 of the image bytes).
    ``max_images``: images in one request. ``max_pixels``: width × height of one image.
    ``timeout_s``: the whole request, from its first body byte to its answer (the designer's
    real-time endpoints default to 60 s). ``max_queue``: images waiting for or in a forward pass;
    a request that would overflow it is answered 503 with Retry-After.
    """

    max_body_bytes: int = 20 * MIB
    max_images: int = 64
    max_pixels: int = 25_000_000
    timeout_s: float = 60.0
    max_queue: int = 512

    def __post_init__(self):
        for name in ("max_body_bytes", "max_images", "max_pixels", "max_queue"):
            if getattr(self, name) < 1:
                raise errors.GreaterThanError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.timeout_s <= 0:
            raise errors.GreaterThanError(f"timeout_s must be greater than 0, got {self.timeout_s}.")
        if self.max_queue < self.max_images:
            raise errors.GreaterThanOrEqualToError(
                f"max_queue ({self.max_queue}) must be at least max_images ({self.max_images}): "
                "a request with the most images allowed must fit in the queue.")

    def as_dict(self) -> dict:
        return asdict(self)


def body_too_large(size: int, limits: Limits) -> Rejected:
    return Rejected(413, errors.LessThanOrEqualToError(
        f"The request body is over {size:,} bytes; the limit is {limits.max_body_bytes:,} bytes.",
        hint="Send fewer or smaller images per request."))


def check_content_length(header: str | None, limits: Limits) -> None:
    """413 before reading anything when the declared body is too large."""
    if header is None:
        return
    try:
        declared = int(header)
    except ValueError:
        raise Rejected(400, errors.ParameterParsingError(f"Content-Length {header!r} is not a number.")) from None
    if declared > limits.max_body_bytes:
        raise body_too_large(declared, limits)


async def read_body(chunks, limits: Limits) -> bytes:
    """The body from an async iterator of chunks, stopping with 413 as soon as it passes the limit
    (a chunked upload declares no length, so counting while reading is the only check)."""
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limits.max_body_bytes:
            raise body_too_large(size, limits)
        parts.append(chunk)
    return b"".join(parts)


def check_image_count(count: int, limits: Limits) -> None:
    if count == 0:
        raise Rejected(400, errors.NullOrEmptyError("The request holds no image.",
                                                    hint="Send at least one image."))
    if count > limits.max_images:
        raise Rejected(413, errors.LessThanOrEqualToError(
            f"The request holds {count} images; the limit is {limits.max_images} per request.",
            hint="Split the images over several requests."))

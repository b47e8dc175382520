"""What one request may cost the service, and the checks that enforce it before the cost is paid.

Every limit is checked at the cheapest point: the body size from ``Content-Length`` before a
byte is read (and again while streaming, for chunked bodies), the image count right after
parsing, the pixels of each image from its header before it is decoded (so a decompression bomb
costs a few hundred bytes of parsing), and the time of the whole request by a deadline.
The limits themselves, and their defaults, are :class:`.settings.Limits`.
"""

from __future__ import annotations

from visionblocks import errors
from visionblocks.service.problems import Rejected
from visionblocks.service.settings import Limits

__all__ = ["Limits", "body_too_large", "check_content_length", "check_image_count", "read_body"]


def body_too_large(size: int, limits: Limits) -> Rejected:
    return Rejected(errors.LessThanOrEqualToError(
        f"The request body is over {size:,} bytes; the limit is {limits.max_body_bytes:,} bytes.",
        hint="Send fewer or smaller images per request."))


def check_content_length(header: str | None, limits: Limits) -> None:
    """413 before reading anything when the declared body is too large."""
    if header is None:
        return
    try:
        declared = int(header)
    except ValueError:
        raise Rejected(errors.ParameterParsingError(f"Content-Length {header!r} is not a number.")) from None
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
        raise Rejected(errors.NullOrEmptyError("The request holds no image.", hint="Send at least one image."))
    if count > limits.max_images:
        raise Rejected(errors.LessThanOrEqualToError(
            f"The request holds {count} images; the limit is {limits.max_images} per request.",
            hint="Split the images over several requests."))

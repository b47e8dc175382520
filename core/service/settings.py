"""What the operator of ``visionblocks serve`` chooses, with the one set of defaults.

``visionblocks serve``'s options take their defaults from here, and so does :func:`create_app`,
so the help text, the app and ``/metadata`` cannot disagree. This module imports nothing heavy:
the CLI reads it while it builds its parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from visionblocks import errors
from visionblocks.units import MIB

HOST = "127.0.0.1"  # this machine only: opening the service to the network is a deliberate choice
PORT = 8000
TOP_K = 5           # classes listed in a row's top_k when the request does not say


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


@dataclass(frozen=True)
class Batching:
    """``max_batch``: images in one forward pass (1 = no micro-batching). ``max_wait_ms``: how long
    the oldest queued image may wait for others to join its batch."""

    max_batch: int = 32
    max_wait_ms: float = 5.0

    def __post_init__(self):
        if self.max_batch < 1:
            raise errors.GreaterThanError(f"max_batch must be at least 1, got {self.max_batch}.")
        if self.max_wait_ms < 0:
            raise errors.GreaterThanOrEqualToError(f"max_wait_ms must be at least 0, got {self.max_wait_ms}.")

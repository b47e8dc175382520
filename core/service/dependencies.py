"""What the routes are given: the service's state (one per app) and the key check."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from visionblocks.service.batching import MicroBatcher
from visionblocks.service.metrics import Metrics, model_info, scorer_name
from visionblocks.service.problems import Rejected, UnauthorizedError
from visionblocks.service.settings import Batching, Limits


@dataclass
class Service:
    """One loaded model and what serves it. ``scorer`` needs ``classes``, ``transform`` (RGB PIL
    image -> C×H×W tensor) and ``predict_tensors`` (N×C×H×W -> N×classes probabilities)."""

    scorer: object
    limits: Limits
    batching: Batching
    top_k: int
    key_digest: bytes | None  # SHA-256 of the key; None: no key needed
    batcher: MicroBatcher = field(init=False)
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self):
        self.batcher = MicroBatcher(self.scorer.predict_tensors, max_batch=self.batching.max_batch,
                                    max_wait_s=self.batching.max_wait_ms / 1000.0, max_queue=self.limits.max_queue)
        self.metrics.watch(self.batcher, model_info(self.scorer))

    @property
    def name(self) -> str:
        """The architecture, else the scorer's class name."""
        return scorer_name(self.scorer)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="The key given to `visionblocks serve --key`.")


def require_key(service: ServiceDep,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """401 unless the request carries the service's key (nothing to check without one)."""
    if service.key_digest is None:
        return
    given = digest(credentials.credentials) if credentials else b""
    # Hashing gives equal lengths, so compare_digest takes the same time whatever was sent.
    if not hmac.compare_digest(given, service.key_digest):
        raise Rejected(UnauthorizedError(
            "This service needs a key: send the header Authorization: Bearer <key>."
            if credentials is None else "The key is not the service's key."),
            headers={"WWW-Authenticate": "Bearer"})

"""What the routes are given: the studio's state (one per app) and the key check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from visionblocks.service.dependencies import digest
from visionblocks.service.problems import Rejected, UnauthorizedError
from visionblocks.studio.runs import RunManager
from visionblocks.studio.settings import StudioSettings

COOKIE = "visionblocks_studio_key"


@dataclass
class Studio:
    settings: StudioSettings
    runs: RunManager = field(default_factory=RunManager)

    @property
    def key_digest(self) -> bytes | None:
        return digest(self.settings.key) if self.settings.key else None


def get_studio(request: Request) -> Studio:
    return request.app.state.studio


StudioDep = Annotated[Studio, Depends(get_studio)]
_bearer = HTTPBearer(auto_error=False, description="The key given to `visionblocks studio --key`.")


def require_key(request: Request, studio: StudioDep,
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """401 unless the request carries the studio's key: as a Bearer header, or in the cookie the
    page got when it was opened with ``/?key=KEY`` (the page's event stream cannot send headers)."""
    expected = studio.key_digest
    if expected is None:
        return
    given = credentials.credentials if credentials else request.cookies.get(COOKIE)
    # Hashing gives equal lengths, so compare_digest takes the same time whatever was sent.
    if not hmac.compare_digest(digest(given or ""), expected):
        raise Rejected(UnauthorizedError("This studio needs its key: open it as /?key=<key> or send the header "
                                         "Authorization: Bearer <key>."), headers={"WWW-Authenticate": "Bearer"})

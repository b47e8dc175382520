"""What the operator of ``visionblocks studio`` chooses, with one set of defaults (the CLI's options
take theirs from here). The address default is the web service's: this machine only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from visionblocks.service.settings import HOST
from visionblocks.units import MIB

PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
# A pipeline file and its layout are a few KiB; the largest body the studio takes is a save.
MAX_BODY_BYTES = 2 * MIB
# The docs site the node links point at: what `make serve-docs` serves.
DOCS_URL = "http://127.0.0.1:8001/"


@dataclass
class StudioSettings:
    """``host``: the address it listens on. ``pipeline``: the file opened at start (None: an empty canvas; a save then needs a path).
    ``out``: the run folder (the ``--out`` of ``visionblocks run``). ``key``: required on every
    request when set. ``docs_url``: where each node's reference page lives."""

    pipeline: Path | None = None
    host: str = HOST
    out: Path | None = None
    key: str | None = None
    language: str = "en"
    max_body_bytes: int = MAX_BODY_BYTES
    docs_url: str = DOCS_URL
    static_dir: Path = field(default_factory=lambda: Path(__file__).resolve().parent / "static")

    def allowed_hosts(self) -> list[str]:
        """The Host headers answered: on a loopback address only its own names, so a web page
        whose domain is made to resolve to 127.0.0.1 (DNS rebinding) cannot use the studio."""
        if self.host in LOOPBACK:
            return list(LOOPBACK)
        return ["*"]  # opened to the network on purpose: the key guards it

    def run_folder(self) -> Path:
        if self.out is not None:
            return self.out
        stem = self.pipeline.stem if self.pipeline else "studio"
        return Path("runs") / stem

"""Shared settings and the property of every fuzz test (tests/test_fuzz_*.py).

CI runs a fixed budget with a fixed seed (``derandomize``): the same examples every run, so a
failure is reproducible and the suite's time is bounded. ``VISIONBLOCKS_FUZZ_EXAMPLES=N`` raises
the budget of every fuzz test to N examples and draws new ones each run (a longer hunt, by hand).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

from visionblocks import errors

CI_EXAMPLES = 40
_LONG = os.environ.get("VISIONBLOCKS_FUZZ_EXAMPLES")

settings.register_profile(
    "visionblocks-fuzz",
    max_examples=int(_LONG) if _LONG else CI_EXAMPLES,
    derandomize=not _LONG,
    deadline=None,  # a shared CI machine: time belongs in benchmarks, not in assertions
    database=None,  # nothing written into the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("visionblocks-fuzz")


def budget(share: float = 1.0) -> settings:
    """The profile, with ``share`` of its examples (for the slower targets)."""
    return settings(FUZZ, max_examples=max(5, int(FUZZ.max_examples * share)))


def designer_or_result(call, *args, **kwargs):
    """Call it; a designer-coded error is an accepted outcome (returned), any other exception fails
    the test (raised as it is, so Hypothesis shows and shrinks it)."""
    try:
        return call(*args, **kwargs)
    except errors.ModuleError as exc:
        assert exc.code_str.isdigit() and exc.message, exc
        return exc


def snapshot(folder: Path) -> set[str]:
    """Every path under ``folder`` (for "nothing written outside the output folder")."""
    return {str(p.relative_to(folder)) for p in Path(folder).rglob("*")}

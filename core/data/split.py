"""Split Image Directory: choose which images go to the first output.

The first output gets ``floor(n · fraction)`` images. Stratified splitting gives every class
``floor(n_c · fraction)`` images and hands the few left to reach the total to the classes with
the largest remainders (ties drawn at random), so every class's share is as close to the
fraction as whole numbers allow. The same seed gives the same split.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from visionblocks import errors
from visionblocks.imagedir import ImageDirectory, ImageEntry
from visionblocks.ports import link_or_copy


def first_count(total: int, fraction: float) -> int:
    """``floor(total · fraction)``, immune to float noise (0.29 · 100 is 28.999999999999996)."""
    return math.floor(round(total * fraction, 9))


def choose_first(targets: list[int] | None, total: int, fraction: float, seed: int, stratified: bool) -> np.ndarray:
    """Sorted indices of the images that go to the first output."""
    rng = np.random.default_rng(seed)
    want = first_count(total, fraction)
    if not stratified or targets is None:
        return np.sort(rng.permutation(total)[:want])
    targets_array = np.asarray(targets)
    classes = np.unique(targets_array)
    members = [rng.permutation(np.flatnonzero(targets_array == c)) for c in classes]
    exact = np.array([len(m) * fraction for m in members])
    quota = np.array([first_count(len(m), fraction) for m in members])
    missing = want - int(quota.sum())
    if missing > 0:
        # Largest remainder first; a random key breaks ties so no class is always favoured.
        order = np.lexsort((rng.random(len(members)), -(exact - quota)))
        quota[order[:missing]] += 1
    chosen = np.concatenate([m[:q] for m, q in zip(members, quota)]) if members else np.array([], dtype=int)
    return np.sort(chosen.astype(int))


def _write_part(source: ImageDirectory, entries: list[ImageEntry], out: Path) -> ImageDirectory:
    for entry in entries:
        link_or_copy(source.path_of(entry), out / entry.file_name)
    return ImageDirectory.write(out, entries, source.classes, source.transform, source.transform_mode,
                                materialized=source.materialized, plain=source.plain)


def split_directory(source: ImageDirectory, fraction: float, seed: int, stratified: bool, out_first: str | Path,
                    out_second: str | Path) -> tuple[ImageDirectory, ImageDirectory]:
    """Write the two parts of ``source`` into the empty folders ``out_first`` and ``out_second``."""
    if not 0.0 <= fraction <= 1.0:
        raise errors.NotInRangeValueError(f"Fraction of images in the first output = {fraction!r} is not in [0, 1].")
    if not source.entries:
        raise errors.TooFewRowsInDatasetError("The input image directory holds no image.")
    targets = source.targets() if source.labeled else None
    chosen = set(choose_first(targets, len(source.entries), fraction, seed, stratified).tolist())
    first = [e for i, e in enumerate(source.entries) if i in chosen]
    second = [e for i, e in enumerate(source.entries) if i not in chosen]
    return _write_part(source, first, Path(out_first)), _write_part(source, second, Path(out_second))

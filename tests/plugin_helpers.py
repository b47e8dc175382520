"""Installing a plugin file as a package with a ``visionblocks`` entry point, outside the repository
(a helper module, not conftest: ``from conftest import`` is ambiguous with docs/conftest.py)."""

import shutil
from pathlib import Path


def install_fake_dist(site: Path, module_file: Path, dist: str = "toy-plugin", ep_name: str = "toy") -> Path:
    """Install ``module_file`` as a package with a ``visionblocks`` entry point into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(module_file, site / module_file.name)
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[visionblocks]\n{ep_name} = {module_file.stem}\n")
    return site

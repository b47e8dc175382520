import os
import sys
from pathlib import Path

import pytest

from plugin_helpers import install_fake_dist

import visionblocks.plugin_host as plugin_host

HERE = Path(__file__).parent
REPO = HERE.parent
os.environ.setdefault("VISIONBLOCKS_QUIET", "1")
# No test reaches the internet: a missing pretrained weights file is an error, never a download.
# tests/test_weights.py turns downloads on against its own server on 127.0.0.1.
os.environ["VISIONBLOCKS_OFFLINE"] = "1"


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    """The toy third-party plugin installed outside the repository, visible to this process and
    to subprocesses (through PYTHONPATH)."""
    site = install_fake_dist(tmp_path / "site", HERE / "plugins" / "toy_plugin.py")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    plugin_host.reset()
    yield site
    sys.modules.pop("toy_plugin", None)
    plugin_host.reset()


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory):
    """The bundled digits written once as raw class folders (16x16, 30 per class)."""
    from visionblocks.datasets import write_digits

    return write_digits(tmp_path_factory.mktemp("digits") / "raw", size=16, per_class=30)

"""visionblocks: the designer's computer-vision modules as PyTorch plugins.

Python API (mirrors the CLI)::

    import visionblocks as vb
    vb.modules()                                   # registered module ids
    vb.run_module("split-image-directory", inputs={...}, params={...}, out="runs/split")
    vb.run_pipeline("examples/digits-pipeline.yaml", out="runs/digits")
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("visionblocks")

from visionblocks.pipeline import Pipeline, load_pipeline, run_pipeline  # noqa: E402
from visionblocks.plugin_host import get_registry, list_plugins, register_plugin, unregister_plugin  # noqa: E402
from visionblocks.runner import run_module  # noqa: E402


def modules() -> list[str]:
    """The ids of every registered module."""
    return get_registry().ids()


def describe(module_id: str):
    """The ModuleSpec of ``module_id``."""
    return get_registry().get(module_id)


__all__ = [
    "Pipeline", "describe", "get_registry", "hookimpl", "list_plugins", "load_pipeline", "modules",
    "register_plugin", "run_module", "run_pipeline", "unregister_plugin", "__version__",
]

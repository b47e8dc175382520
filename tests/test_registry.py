import json
import subprocess
import sys

import pytest

import visionblocks
import visionblocks.plugin_host as plugin_host
from visionblocks.registry import DuplicateModuleError, Registry
from visionblocks.spec import ModuleSpec

BUILTIN_PLUGINS = {"image_data", "networks", "training", "scoring", "catalogs"}


def _spec(module_id="a-module"):
    return ModuleSpec(id=module_id, name="A", category="C", summary="s", description="d", run=lambda ctx: None)


def test_builtins_load_through_the_entry_point_group():
    plugin_host.reset()
    names = {p["name"] for p in visionblocks.list_plugins()}
    assert BUILTIN_PLUGINS <= names
    assert all(p["package"] == "visionblocks" for p in visionblocks.list_plugins() if p["name"] in BUILTIN_PLUGINS)


def test_duplicate_module_id_names_both_plugins():
    registry = Registry()
    registry.register(_spec(), plugin="first-plugin")
    with pytest.raises(DuplicateModuleError, match="first-plugin.*second-plugin"):
        registry.register(_spec(), plugin="second-plugin")


def test_duplicate_across_real_plugins():
    class Clash:
        @visionblocks.hookimpl
        def visionblocks_register_modules(self, register):
            register(_spec("split-image-directory"))

    visionblocks.register_plugin(Clash(), name="clash")
    try:
        with pytest.raises(DuplicateModuleError, match="image_data.*clash"):
            plugin_host.get_registry()
    finally:
        visionblocks.unregister_plugin("clash")


def test_misspelled_hook_is_caught():
    class Typo:
        @visionblocks.hookimpl
        def visionblocks_register_module(self, register):  # missing the final "s"
            pass

    visionblocks.register_plugin(Typo(), name="typo")
    try:
        with pytest.raises(Exception, match="unknown hook 'visionblocks_register_module'"):
            plugin_host.get_plugin_manager()
    finally:
        visionblocks.unregister_plugin("typo")


def test_module_id_must_be_kebab_case():
    with pytest.raises(ValueError, match="kebab-case"):
        _spec("Score_Image")


def test_third_party_plugin_listed_by_cli(toy_plugin):
    out = subprocess.run([sys.executable, "-m", "visionblocks.cli", "modules", "--json"],
                         capture_output=True, text=True, check=True).stdout
    ids = {m["id"]: m for m in json.loads(out)}
    assert ids["toy-source"]["plugin"] == "toy"
    assert "split-image-directory" in ids
    plugins = json.loads(subprocess.run([sys.executable, "-m", "visionblocks.cli", "plugins", "--json"],
                                        capture_output=True, text=True, check=True).stdout)
    toy = next(p for p in plugins if p["name"] == "toy")
    assert toy == {"name": "toy", "package": "toy-plugin", "version": "1.0", "module": "toy_plugin",
                   "hooks": ["visionblocks_register_modules"],
                   "modules": ["toy-add", "toy-eat-images", "toy-source"],
                   "architectures": [], "transforms": [], "commands": []}


def test_disable_autoload_keeps_only_builtins(toy_plugin, monkeypatch):
    monkeypatch.setenv(plugin_host.DISABLE_ENV, "1")
    plugin_host.reset()
    assert "toy-source" not in visionblocks.modules()
    assert "split-image-directory" in visionblocks.modules()
    monkeypatch.delenv(plugin_host.DISABLE_ENV)
    plugin_host.reset()
    assert "toy-source" in visionblocks.modules()


def test_reset_forgets_everything_loaded(toy_plugin, monkeypatch):
    """After a reset nothing of the earlier load is left: a hand-registered plugin that takes the
    name of a third-party plugin no longer loaded is not reported as that plugin's package."""
    toy = next(p for p in visionblocks.list_plugins() if p["name"] == "toy")
    assert toy["package"] == "toy-plugin"
    monkeypatch.setenv(plugin_host.DISABLE_ENV, "1")

    class Stand:
        @visionblocks.hookimpl
        def visionblocks_register_modules(self, register):
            register(_spec("stand-in"))

    visionblocks.register_plugin(Stand(), name="toy")  # resets
    try:
        stand = next(p for p in visionblocks.list_plugins() if p["name"] == "toy")
        assert stand["package"] is None and stand["version"] is None
        assert stand["modules"] == ["stand-in"]
        assert "toy-source" not in visionblocks.modules()
    finally:
        visionblocks.unregister_plugin("toy")

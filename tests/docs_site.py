"""The docs site built once per test session, shared by test_site_build.py and test_browser.py.

Each of those modules declares a session fixture calling :func:`built_site`; the build itself is
cached here, so the five-language ``mkdocs build --strict`` runs once however many use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "es", "pt", "ru", "fr")
# The address the test builds are made for (mkdocs.yml's default, set here so that a developer's
# VISIONBLOCKS_SITE_URL does not change what the tests see); served at / by tests/test_browser.py.
SITE_URL = "http://127.0.0.1:8001/"
# Settings of a published build that a test build must not pick up from the environment.
_PUBLISHING_VARIABLES = ("BUILD_ONLY_LOCALE", "VISIONBLOCKS_SITE_URL", "VISIONBLOCKS_REPO_URL", "VISIONBLOCKS_EDIT_URI")


@dataclass(frozen=True)
class Build:
    site: Path
    returncode: int
    log: str


_builds: dict[str, Build] = {}


def mkdocs_build(site: Path, only_locale: str | None = None) -> Build:
    env = {k: v for k, v in os.environ.items() if k not in _PUBLISHING_VARIABLES}
    env.update(NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true", VISIONBLOCKS_SITE_URL=SITE_URL)
    if only_locale:
        env["BUILD_ONLY_LOCALE"] = only_locale
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    return Build(site, proc.returncode, proc.stdout + proc.stderr)


def built_site(tmp_path_factory) -> Build:
    """The full five-language site, built into a temporary folder on first use."""
    if "full" not in _builds:
        _builds["full"] = mkdocs_build(tmp_path_factory.mktemp("site"))
    return _builds["full"]


def page_dir(site: Path, lang: str, path: str) -> Path:
    """Where ``path`` (``modules/resnet/``) of language ``lang`` lives in the built site."""
    return site / path if lang == LANGUAGES[0] else site / lang / path


class _ConfigLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without running its tags (``!ENV``, ``!!python/...``)."""


_ConfigLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
_ConfigLoader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)


def mkdocs_config() -> dict:
    return yaml.load((REPO / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_ConfigLoader)


def nav_pages(items: list | None = None) -> list[str]:
    """Every page path named in mkdocs.yml's nav, in order."""
    found = []
    for item in mkdocs_config()["nav"] if items is None else items:
        target = next(iter(item.values())) if isinstance(item, dict) else item
        found.extend(nav_pages(target) if isinstance(target, list) else [target])
    return found


def untranslated_module_page(path: Path) -> bool:
    """A module page of a plugin without catalogs: it shows the English text, and says so."""
    return path.parent.name == "modules" and '!!! warning "' in path.read_text(encoding="utf-8").split("##", 1)[0]

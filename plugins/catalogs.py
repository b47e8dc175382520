"""Built-in plugin: the gettext catalogs of the built-in modules (``translations/``)."""

from pathlib import Path

import visionblocks

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


@visionblocks.hookimpl
def visionblocks_translation_dirs():
    return [TRANSLATIONS]

"""Built-in plugin: the gettext catalogs of the built-in modules (package data ``visionblocks.translations``)."""

import visionblocks
from visionblocks.docs.catalog import TRANSLATIONS


@visionblocks.hookimpl
def visionblocks_translation_dirs():
    return [TRANSLATIONS]

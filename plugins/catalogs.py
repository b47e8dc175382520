"""Built-in plugin: the gettext catalogs of the built-in modules (package data ``visionblocks.translations``)."""

import visionblocks
from visionblocks.translations import FOLDER


@visionblocks.hookimpl
def visionblocks_translation_dirs():
    return [FOLDER]

"""The built-in gettext catalogs and the glossary of official names, shipped as package data.

This folder is the source of truth (``visionblocks docs extract`` updates it). pyproject.toml maps
it to ``visionblocks.translations``, so code finds it with ``importlib.resources`` the same way in
an editable install (this folder) and in a wheel (``site-packages/visionblocks/translations``).
"""

from importlib.resources import files
from pathlib import Path

# The folder itself: plugins/catalogs.py hands it to the translation hook without importing the
# catalog tooling (polib, YAML) at start-up; visionblocks.docs.catalog reads and writes it.
FOLDER = Path(str(files(__name__)))

"""``python -m visionblocks`` (what ``torchrun -m visionblocks ...`` runs)."""

import sys

from .cli import main

sys.exit(main())

"""``python -m visionblocks`` (what ``torchrun -m visionblocks ...`` runs)."""

import sys

from visionblocks.cli import main

sys.exit(main())

"""Built-in plugin: the ``visionblocks`` sub-commands of every area, through the same
``visionblocks_register_commands`` hook a third-party plugin uses.

The areas' command modules are imported when the command line is built, not when this plugin
is loaded (listing modules or generating docs needs no command line). None of them imports torch
at import time: the commands import it when they run.
"""

from __future__ import annotations

import visionblocks


@visionblocks.hookimpl
def visionblocks_register_commands(subparsers):
    from visionblocks import commands as core_commands
    from visionblocks.docs import commands as docs_commands
    from visionblocks.evaluation import commands as evaluation_commands
    from visionblocks.learn import commands as learn_commands
    from visionblocks.service import commands as service_commands
    from visionblocks.studio import commands as studio_commands

    for area in (core_commands, docs_commands, evaluation_commands, learn_commands, service_commands,
                 studio_commands):
        area.add_commands(subparsers)

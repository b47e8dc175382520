"""Built-in plugin (being written): see the open issue for this module family."""

import visionblocks


@visionblocks.hookimpl
def visionblocks_register_modules(register):
    pass

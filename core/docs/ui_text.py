"""English source of the fixed phrases on the generated module pages (and in ``describe``).

They are translated through the same gettext catalogs as the module metadata, with the context
``ui.<key>``, so ``translations/<lang>/LC_MESSAGES/visionblocks.po`` is the one place every
translation lives. ``{name}`` fields are filled in by the generator and must stay in translations.

The evaluation report's phrases (``report.<key>``) join them from ``visionblocks.messages``,
where the report (which may not import this package) reads them too.
"""

from visionblocks.messages import REPORT_CONTEXT, REPORT_TEXT

UI_TEXT = {
    # The line of facts under the title.
    "meta.line": "Module id: {id} · Category: {category} · Version: {version} · Plugin: {plugin}",
    # Shown on a page whose module text has no translation into the page's language.
    "untranslated.title": "Not yet translated",
    "untranslated.body": "The module text of this page has no translation into this language yet, so it is "
                         "shown in English. The module comes from the plugin `{plugin}`, which can ship its own "
                         "translation catalogs.",
    "untranslated.badge": "in English",
    # Section headings.
    "section.configure": "How to configure",
    "section.inputs": "Inputs",
    "section.outputs": "Outputs",
    "section.parameters": "Parameters",
    "section.results": "Results",
    "section.example": "Example",
    "section.examples": "Examples",
    "section.errors": "Errors",
    "section.notes": "Notes",
    "section.related": "Related modules",
    # Short explanations under the headings.
    "intro.ports": "Pipelines, the command line and the Python API refer to ports and parameters by their name.",
    "intro.example": "The examples on this page run as tests in every language of the site; the lines that do "
                     "not start with `>>>` or `...` are the expected output. They write their files into the "
                     "current folder, so run them in an empty one.",
    "intro.errors": "When an input or a parameter is not valid, the module stops and reports one of these "
                    "errors. The command line prints the code and the name, and `error_info.json` in the output "
                    "folder records them.",
    "no_inputs": "This module has no inputs.",
    "no_outputs": "This module has no outputs.",
    "no_parameters": "This module has no parameters.",
    # Table headers.
    "col.port": "Port",
    "col.parameter": "Parameter",
    "col.name": "Name",
    "col.type": "Type",
    "col.default": "Default",
    "col.allowed": "Allowed values",
    "col.description": "Description",
    "col.code": "Code",
    "col.message": "Message",
    "col.module": "Module",
    "col.summary": "What it does",
    # Cell texts.
    "optional": "optional",
    "required": "Required.",
    "enabled_by": "Used only when **{parameter}** is on.",
    # After an allowed value (an architecture) that another plugin than the module's added.
    "added_by": "(added by the plugin {plugin})",
    # The line under a parameter's description.
    "param.facts": "Type: {type} · Default: {default} · Allowed values: {allowed}",
    # Related modules.
    "related.upstream": "Takes input from: {modules}",
    "related.downstream": "Sends output to: {modules}",
    "related.see_also": "See also: {modules}",
    # The module index.
    "index.title": "Modules",
    "index.intro": "Every module installed with visionblocks, grouped by category. Each page describes the "
                   "module's ports, parameters, results and errors, with an example that runs as a test.",
    # The site's "page not found" page (docs/overrides/404.html), one per language.
    "notfound.title": "Page not found",
    "notfound.body": "There is no page at this address: the link may be mistyped, or the page may have moved. "
                     "Search the site with the box at the top, or go on from one of these pages:",
    "notfound.home": "Home page",
    # `visionblocks describe` (terminal output).
    "describe.default": "default",
}

# The evaluation report (context ``ui.report.<key>``, as visionblocks.messages looks them up).
UI_TEXT.update({REPORT_CONTEXT.removeprefix("ui.") + key: text for key, text in REPORT_TEXT.items()})

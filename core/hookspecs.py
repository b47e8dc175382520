"""The hooks a visionblocks plugin can implement. These docstrings are the reference.

A plugin is any importable object (usually a module) with functions decorated with
``visionblocks.hookimpl``. Plugins are found through the ``visionblocks`` entry-point group;
the built-in modules load through that same group, so they are plugins like any other.

Example plugin (``my_plugin.py``)::

    import visionblocks
    from visionblocks.spec import ModuleSpec

    @visionblocks.hookimpl
    def visionblocks_register_modules(register):
        register(ModuleSpec(id="my-module", name="My Module", ...))

and in its ``pyproject.toml``::

    [project.entry-points.visionblocks]
    my_plugin = "my_plugin"
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("visionblocks")


@hookspec
def visionblocks_register_modules(register):
    """Register modules by calling ``register(spec)`` once per :class:`~visionblocks.spec.ModuleSpec`.

    A module id may be registered only once across all plugins: a second registration raises
    :class:`~visionblocks.registry.DuplicateModuleError` naming both plugins.
    """


@hookspec
def visionblocks_translation_dirs():
    """Return a path, or a list of paths, holding gettext catalogs for this plugin's text.

    Each path contains ``<lang>/LC_MESSAGES/*.po`` (lang is ``es``, ``pt``, ``ru`` or ``fr``).
    Entries are keyed by ``msgctxt`` = ``<module-id>.<field>`` and ``msgid`` = the English text,
    so a plugin's catalogs never clash with another's. Text without a translation is shown in
    English with a "not yet translated" note.
    """


# -- the life of a run ---------------------------------------------------------------------------
# The pipeline runner and the module runner call these hooks; tracking plugins (the built-in
# MLflow and TensorBoard ones in visionblocks.tracking) implement them. ``run`` is a
# visionblocks.events.RunInfo (name, out, settings, pipeline, nodes, id) and ``node`` a
# visionblocks.events.NodeInfo (id, module, params, run_dir, outputs, output_types). An
# implementation that has nothing to do for a run (its tracking is off) returns at once; the
# runners never import a tracking library.


@hookspec
def visionblocks_run_started(run):
    """A pipeline run is about to run its first node (after the whole pipeline was validated).

    ``run.settings`` holds the run-wide choices (``tracking``, ``language``, ``tensorboard``);
    ``run.nodes`` lists every node with its validated parameters, in run order. Raise a
    :class:`~visionblocks.errors.ModuleError` to refuse the run before anything runs (for example
    when tracking was asked for and its library is not installed).
    """


@hookspec
def visionblocks_node_started(run, node):
    """A node is about to run its module. Not called for a node whose cached output is reused."""


@hookspec
def visionblocks_metrics(run, node, metrics, step, scope):
    """A module reports numbers while it runs.

    ``metrics`` maps names to floats. ``scope`` says what ``step`` counts: ``"epoch"`` (Train
    PyTorch Model's per-epoch ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``,
    ``learning_rate``, ``images_per_second``, with ``step`` = the epoch, from 1), ``"batch"``
    (every Print frequency batches: ``loss``, ``accuracy``, ``learning_rate``,
    ``images_per_second`` so far in the epoch, with ``step`` = batches since training started) or
    ``"result"`` (final numbers such as Evaluate Model's metrics, ``step`` 0).
    """


@hookspec
def visionblocks_artifact(run, node, path, kind):
    """A module points at a file or folder worth keeping with the run.

    ``kind`` is ``"model"`` (a ModelDirectory), ``"report"`` (an HTML page), ``"chart"`` (an
    image), or ``"table"`` (CSV or Parquet). ``path`` may be inside a temporary output folder:
    copy it during the call, do not keep the path.
    """


@hookspec
def visionblocks_node_finished(run, node, status, error):
    """A node ended: ``status`` is ``"ran"``, ``"reused"`` (its cached output was kept) or
    ``"failed"`` (then ``error`` is the exception, else ``None``); ``node.outputs`` are published."""


@hookspec
def visionblocks_run_finished(run, log, error):
    """The pipeline run ended: ``log`` is the run log (``run_log.json``'s content; partial when it
    failed), ``error`` the exception that stopped it or ``None``."""

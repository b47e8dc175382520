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


# -- what a plugin adds besides modules ---------------------------------------------------------
# Each of these hooks is called once per plugin, with a ``register`` (or ``subparsers``) that
# knows which plugin is calling, so a name registered twice fails with an error naming both
# plugins (:class:`~visionblocks.registry.DuplicateNameError`), as module ids do. The built-in
# plugins register their own architectures, operations and commands through the same hooks.


@hookspec
def visionblocks_register_architectures(register):
    """Register network architectures by calling ``register(spec)`` once per
    :class:`~visionblocks.spec.ArchitectureSpec`::

        register(ArchitectureSpec(name="tiny_net", family="resnet", builder="my_plugin.nets:tiny_net",
                                  input_size=32))

    ``builder(num_classes=N, **options)`` returns a ``torch.nn.Module``; give it as a
    ``"package.module:function"`` string (imported only when a model is built, so listing
    modules never loads torch) or as a callable. ``family`` places the architecture: an
    architecture of the ``resnet`` or ``densenet`` family appears in that module's Model name
    (its docs page marks it with the plugin's name); a new family is for the plugin's own module,
    whose Model name parameter takes ``choices=visionblocks.learn.choices.architecture_choices(family)``.
    ``weights`` names pretrained weights (an http(s) URL whose file name carries the start of its
    SHA-256, or give ``sha256``; or a torchvision weights name such as
    ``MobileNet_V3_Small_Weights.IMAGENET1K_V1``), fetched and checked like the built-ins'.
    Train PyTorch Model, Score Image Model, ``visionblocks serve`` and ``visionblocks weights``
    accept every registered architecture. A name may be registered only once across all plugins.
    """


@hookspec
def visionblocks_register_transforms(register):
    """Register image transform operations by calling ``register(spec)`` once per
    :class:`~visionblocks.spec.TransformSpec`::

        register(TransformSpec(name="RandomInvert", build="my_plugin.ops:RandomInvert", random=True,
                               params=(Param("p", "float", "Probability", "...", default=0.5, min=0, max=1),)))

    The operation can then be written in a TransformationDirectory's ``[op, args]`` list, for
    example in Init Image Transformation's Additional operations (``[["RandomInvert", {"p": 0.2}]]``).
    ``params`` declares the arguments, checked with the designer's error codes before ``build``
    gets them as keywords; without ``params`` the arguments go to ``build`` as given (a dict as
    keywords, a list as positional arguments, another value as one argument) and ``build``'s
    ``TypeError``/``ValueError`` becomes InvalidTransformationDirectory (0158). ``random=True``
    marks an augmentation, dropped for inference (Apply Image Transformation "For inference",
    scoring, the web service). An operation name may be registered only once across all plugins.
    """


@hookspec
def visionblocks_register_commands(subparsers):
    """Add ``visionblocks`` sub-commands, as with :mod:`argparse`::

        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.name}"))

    ``subparsers`` behaves like the object ``ArgumentParser.add_subparsers()`` returns, but only
    ``add_parser`` is offered. ``func(args)`` runs the command; it returns the exit status (``None``
    is 0), and a :class:`~visionblocks.errors.ModuleError` it raises is printed as the usual
    one-line error. Import heavy libraries inside ``func``, not at the top of the plugin, so
    ``visionblocks --help`` stays fast. A command name (or alias) may be added only once across
    all plugins. The built-in commands come through this hook too.
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

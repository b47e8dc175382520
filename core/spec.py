"""What a module is: its metadata (English source text) and its ``run`` function.

Everything a user reads about a module — CLI help, docs pages in five languages, pipeline
errors — comes from these objects. Prose fields are English; ``visionblocks.docs.i18n``
translates them through the gettext catalogs. The architectures and transform operations a
plugin adds (:class:`ArchitectureSpec`, :class:`TransformSpec`) are described here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from visionblocks import errors

ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PARAM_TYPES = ("int", "float", "bool", "enum", "string", "path")


@dataclass(frozen=True)
class Port:
    """An input or output of a module.

    ``name`` is the identifier used in pipelines and on the CLI (``input_image_directory``);
    ``label`` is the designer's display name ("Input image directory").
    """

    name: str
    type: str
    label: str
    description: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Param:
    """A module parameter: type, default, allowed values or range, and help text.

    ``min``/``max`` bound the value inclusively; ``min_exclusive`` makes the lower bound strict
    (the designer's "> 0" ranges). ``required`` with ``default=None`` means the user must choose.
    ``enabled_by`` names a bool parameter that switches this one on (Size only matters when
    Resize is on); it is documentation and lets validation skip ranges of disabled values.
    ``check`` is a further check of a value that has passed the type and range checks, for what
    a type and a range cannot say (Init Image Transformation's Additional operations must name
    registered operations with arguments they accept). It is called as ``check(value)`` wherever
    parameters are validated, so a bad value fails before any node of a pipeline runs; it refuses
    the value by raising a :class:`~visionblocks.errors.ModuleError` with the designer's code and
    a message naming the parameter, or ``ValueError``/``TypeError`` (reported as ParameterParsing,
    0002, naming the parameter); its return value is ignored. Give a callable, or a
    ``"package.module:function"`` string imported when the check first runs, so that a module's
    metadata stays free of heavy imports.
    """

    name: str
    type: str
    label: str
    help: str
    default: Any = None
    choices: tuple | DynamicChoices = ()  # DynamicChoices: looked up when read (plugin-added values)
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    required: bool = False
    enabled_by: str | None = None
    check: str | Callable[[Any], Any] | None = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter {self.name!r}: unknown type {self.type!r}; use one of {PARAM_TYPES}")
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"parameter name {self.name!r} must be snake_case")
        if self.type == "enum" and not isinstance(self.choices, DynamicChoices) and not self.choices:
            raise ValueError(f"enum parameter {self.name!r} needs choices")
        if self.check is not None:
            _check_reference(f"parameter {self.name!r}", "check", self.check)

    def range_text(self) -> str:
        """The allowed values, as the docs and error messages show them (language-neutral)."""
        if self.type == "enum":
            return ", ".join(str(c) for c in self.choices)
        if self.type == "bool":
            return "true, false"
        def num(value) -> str:  # 178956970, not 1.78957e+08; 0.5 stays 0.5
            return str(int(value)) if self.type == "int" or float(value).is_integer() else f"{value:g}"

        lo = None if self.min is None else (f"> {num(self.min)}" if self.min_exclusive else f">= {num(self.min)}")
        if lo and self.max is not None:
            opening = "(" if self.min_exclusive else "["
            return f"{opening}{num(self.min)}, {num(self.max)}]"
        if lo:
            return lo
        if self.max is not None:
            return f"<= {num(self.max)}"
        return ""


@dataclass
class ModuleSpec:
    """A module as the registry, the runner, the CLI and the docs see it.

    ``run(ctx)`` receives a :class:`visionblocks.runner.RunContext` and writes each output port's
    directory under ``ctx.outputs[name]``. ``errors`` lists the error classes the module raises
    (shown on its docs page). ``examples`` are Markdown snippets with ```` ```python ```` doctest
    blocks, byte-identical in every language. ``notes`` says where visionblocks goes further than
    the designer. ``sections`` are extra (title, body) pairs that the docs page shows after the
    results, for topics only one module needs (Score Image Model: evaluating the scores,
    publishing as a web service); bodies may hold paragraphs (blank line between them), inline
    `code` and Markdown links such as ``[Evaluate Model](evaluate-model.md)``.
    """

    id: str
    name: str
    category: str
    summary: str
    description: str
    run: Callable[..., Any]
    version: str = "1"
    steps: tuple[str, ...] = ()
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    params: tuple[Param, ...] = ()
    results: tuple[tuple[str, str], ...] = ()
    errors: tuple[type[errors.ModuleError], ...] = ()
    related: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    sections: tuple[tuple[str, str], ...] = ()
    # True when every torchrun process takes part in ``run`` (training, scoring); a pipeline under
    # torchrun runs the other modules on rank 0 only.
    distributed: bool = False
    plugin: str = ""  # filled in by the registry: which plugin registered it

    def __post_init__(self):
        if not ID_PATTERN.match(self.id):
            raise ValueError(f"module id {self.id!r} must be kebab-case, e.g. 'score-image-model'")
        for group in (self.inputs, self.outputs, self.params):
            names = [item.name for item in group]
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise ValueError(f"module {self.id!r}: duplicate names {sorted(dupes)}")

    def input(self, name: str) -> Port:
        return _find(self.inputs, name, self.id, "input port")

    def output(self, name: str) -> Port:
        return _find(self.outputs, name, self.id, "output port")

    def param(self, name: str) -> Param:
        return _find(self.params, name, self.id, "parameter")


def _find(items, name, module_id, kind):
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(i.name for i in items) or "none"
    raise KeyError(f"module {module_id!r} has no {kind} {name!r} (known: {known})")


# -- what a plugin adds besides modules ------------------------------------------------------------
# Architectures and transform operations are named things that modules use (the ResNet module's
# Model name, Init Image Transformation's operations). A plugin registers them through the hooks
# in visionblocks.hookspecs; these classes are what it registers. They import no torch: the code
# that needs torch is named by a "package.module:attribute" string (or given as a callable) and
# loaded only when a model or a transform is built.

ARCHITECTURE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
FAMILY_PATTERN = NAME_PATTERN
TRANSFORM_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
REFERENCE_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def resolve(reference: str | Callable[..., Any]) -> Callable[..., Any]:
    """The object a ``"package.module:attribute"`` string names (imported now), or ``reference``
    itself when it is already a callable."""
    if callable(reference):
        return reference
    import importlib

    module_name, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:  # a plugin's mistake: say which reference failed
        raise ImportError(f"cannot load {reference!r}: {exc}") from exc
    return target


def _check_reference(owner: str, field_name: str, reference) -> None:
    if callable(reference):
        return
    if not isinstance(reference, str) or not REFERENCE_PATTERN.match(reference):
        raise ValueError(f"{owner}: {field_name} must be a callable or a 'package.module:function' string, "
                         f"got {reference!r}")


@dataclass(frozen=True)
class ArchitectureSpec:
    """A network architecture that Train PyTorch Model can build and Score Image Model can load.

    ``name`` is what users choose and what an UntrainedModelDirectory records (``resnet18``);
    ``family`` groups architectures under the module that offers them (``resnet`` for the ResNet
    module's Model name; a plugin may add to a built-in family or bring its own).
    ``builder`` is called as ``builder(num_classes=N, **options)`` and returns a
    ``torch.nn.Module`` whose output has N logits; ``options`` names the options of the
    untrained model's config the builder accepts (``zero_init_residual`` for ResNet,
    ``memory_efficient`` for DenseNet). ``input_size`` is the image edge the architecture is
    usually trained at: a ModelDirectory of it that records no input size (saved before sizes
    were recorded) is taken to have ``[3, input_size, input_size]``, which export traces with and
    the web service reports. ``weights`` says where pretrained weights come from: an http(s) URL of a
    state-dict file (torch hub's rule: a name like ``net-1a2b3c4d.pth`` carries the start of its
    SHA-256, or give ``sha256``: then the cached file is keyed by it and checked against it each
    time it is used), or a torchvision weights name such as
    ``ResNet18_Weights.IMAGENET1K_V1``; ``None`` when there are none. ``head`` is the dotted path
    of the final ``nn.Linear`` (``fc``, ``classifier``, ``classifier.1``), replaced by one sized to
    the training data's classes after pretrained weights are loaded.
    """

    name: str
    family: str
    builder: str | Callable[..., Any]
    input_size: int = 224
    weights: str | None = None
    sha256: str | None = None
    head: str | None = None
    options: tuple[str, ...] = ()
    plugin: str = ""  # filled in by the registry: which plugin registered it

    def __post_init__(self):
        if not isinstance(self.name, str) or not ARCHITECTURE_PATTERN.match(self.name):
            raise ValueError(f"architecture name {self.name!r} must be lowercase letters, digits, '_', '.' or '-'")
        if not isinstance(self.family, str) or not FAMILY_PATTERN.match(self.family):
            raise ValueError(f"architecture {self.name!r}: family {self.family!r} must be snake_case")
        _check_reference(f"architecture {self.name!r}", "builder", self.builder)
        if not isinstance(self.input_size, int) or self.input_size < 1:
            raise ValueError(f"architecture {self.name!r}: input_size must be a positive int")
        if self.weights and not self.head:
            raise ValueError(f"architecture {self.name!r} has pretrained weights, so it needs head (the dotted "
                             "path of its last nn.Linear, replaced to fit the training classes)")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{8,64}", self.sha256):
            raise ValueError(f"architecture {self.name!r}: sha256 must be 8 to 64 lowercase hex digits")
        object.__setattr__(self, "options", tuple(self.options))


@dataclass(frozen=True)
class TransformSpec:
    """An image transform operation, used in the ``[op, args]`` lists of a TransformationDirectory.

    ``name`` is the op name written in those lists (``RandomHorizontalFlip``). ``build`` makes the
    step from the op's arguments the way torchvision's classes are called: a dict is keyword
    arguments, a list positional ones, anything else one positional argument. The step is called
    with an RGB image — a uint8 C×H×W tensor, or a PIL image when ``prefers_pil`` — and returns
    one in either form (after To tensor: a float tensor). ``params``, when given, declares every
    argument (:class:`Param`: type, default, range): arguments are then checked with the
    designer's error codes before ``build`` sees them, and passed as keywords. ``random`` marks
    an augmentation: Apply Image Transformation "For inference", scoring and the web service drop
    it. ``tensor_only`` ops get a To tensor step put before them when the image is not yet a
    float tensor.
    """

    name: str
    build: str | Callable[..., Any]
    params: tuple[Param, ...] = ()
    random: bool = False
    tensor_only: bool = False
    prefers_pil: bool = False
    plugin: str = ""  # filled in by the registry: which plugin registered it

    def __post_init__(self):
        if not isinstance(self.name, str) or not TRANSFORM_PATTERN.match(self.name):
            raise ValueError(f"transform operation name {self.name!r} must be letters, digits and '_', "
                             "starting with a letter (CamelCase, like torchvision's)")
        _check_reference(f"transform operation {self.name!r}", "build", self.build)
        object.__setattr__(self, "params", tuple(self.params))
        names = [param.name for param in self.params]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"transform operation {self.name!r}: duplicate parameter names {dupes}")


class DynamicChoices:
    """An enum parameter's allowed values, looked up each time they are read.

    The ResNet module's Model name allows every architecture of the ``resnet`` family, including
    those a plugin registered, so its choices cannot be a tuple fixed when the module is defined.
    ``source()`` returns the values; ``added_by(value)`` the plugin that registered a value (the
    docs mark values another plugin added). It behaves as a read-only sequence of strings.
    """

    def __init__(self, source: Callable[[], Any], added_by: Callable[[str], str] | None = None,
                 describe: str = ""):
        self._source = source
        self._added_by = added_by
        self._describe = describe

    def values(self) -> tuple[str, ...]:
        return tuple(self._source())

    def added_by(self, value: str) -> str:
        return self._added_by(value) if self._added_by else ""

    def __iter__(self):
        return iter(self.values())

    def __len__(self) -> int:
        return len(self.values())

    def __getitem__(self, index):
        return self.values()[index]

    def __contains__(self, value) -> bool:
        return value in self.values()

    def __repr__(self) -> str:
        return f"DynamicChoices({self._describe or self._source!r})"

"""Model names -> framework-neutral layer lists, found and imported lazily.

Every folder `models/<name>/` with a `spec.py` is a model: its `SPEC` (bench.spec.model_spec.Spec: paper, parts,
published figures, options, parameters, role, initialisation) and `layers(num_classes, **options)`. Two kinds of
options are part of a model's name, and only non-default values appear there: named choices (`Spec.options`, each
non-default one listed as a model of its own: `r4_resnet34:stem=cifar`), and numbers within a range
(`Spec.parameters`, the knobs of a search: `r2_tuned_cnn:filters1=64,dropout=0.3`; not listed). Listing names
imports no framework; both framework builders read the same layer list (bench.frameworks.<framework>.network).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from bench.errors import BenchError, unknown
from bench.paths import PROJECT_ROOT
from bench.spec import layers as spec_layers
from bench.spec.model_spec import Spec

MODELS_DIR = PROJECT_ROOT / "models"


def base_names() -> list[str]:
    return sorted(p.parent.name for p in MODELS_DIR.glob("*/spec.py"))


def model_names() -> list[str]:
    """Every model, and every non-default option of a model as its own name."""
    names = []
    for base in base_names():
        names.append(base)
        for option, choices in _spec(base).options.items():
            names += [f"{base}:{option}={choice}" for choice in choices[1:]]
    return names


def parse(name: str) -> tuple[str, dict]:
    """'r4_resnet34:stem=cifar' -> ('r4_resnet34', {'stem': 'cifar'}), validated; parameters typed. Parsed once
    per process and name (`_parsed`); the caller gets its own dict."""
    base, options = _parsed(name)
    return base, dict(options)


@functools.cache
def _parsed(name: str) -> tuple[str, tuple]:
    """parse's work, remembered: the models folder is read and the spec's builder checked once per name."""
    base, _, option_text = name.partition(":")
    if base not in base_names():
        raise unknown("model", name, model_names())
    declared, numbers = _spec(base).options, _spec(base).parameters
    options = {}
    for item in filter(None, option_text.split(",")):
        key, _, value = item.partition("=")
        if key in numbers:
            options[key] = _number(name, key, value, *numbers[key])
        elif key in declared and value in declared[key]:
            options[key] = value
        else:
            raise BenchError(
                f"unknown model {name!r}; choose from {', '.join(model_names())}"
                + (f" (numeric options of {base}: {_ranges(numbers)})" if numbers else "")
            )
    if numbers:
        try:  # a spec's builder may refuse a combination (ValueError), e.g. an even kernel
            _import_spec(base).layers(10, **options)
        except ValueError as error:
            raise BenchError(f"model {name!r}: {error}") from None
    return base, tuple(options.items())


def _number(name: str, key: str, text: str, default, low, high):
    try:
        value = type(default)(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BenchError(f"model {name!r}: {key} must be {type(default).__name__} in [{low}, {high}]")
    return value


def _ranges(numbers: dict) -> str:
    return ", ".join(f"{key} in [{low}, {high}] (default {default})" for key, (default, low, high) in numbers.items())


def variant(base: str, **values) -> str:
    """The canonical name of `base` with these option values: non-defaults only, in declared order."""
    declared = _spec(base)
    defaults = {key: choices[0] for key, choices in declared.options.items()}
    defaults |= {key: default for key, (default, _, _) in declared.parameters.items()}
    unknown = set(values) - set(defaults)
    if unknown:
        raise BenchError(f"model {base!r} has no option {', '.join(sorted(unknown))}")
    chosen = [
        f"{key}={values[key]:g}" if isinstance(values[key], float) else f"{key}={values[key]}"
        for key in defaults
        if key in values and values[key] != defaults[key]
    ]
    name = f"{base}:{','.join(chosen)}" if chosen else base
    parse(name)
    return name


def options(name: str) -> dict[str, str]:
    """Every declared option of a model with the value this name selects (defaults filled in)."""
    base, chosen = parse(name)
    return {key: chosen.get(key, choices[0]) for key, choices in _spec(base).options.items()}


def role(name: str) -> str:
    """What a model is for: `trained` from scratch by the suites (the default); `pretrained`, a layout for
    torchvision's ImageNet weights (a spec's role, or its option values `pretrained_option`); or `yardstick`."""
    base, chosen = parse(name)
    declared = _spec(base)
    pretrained = declared.pretrained_option
    if pretrained and all(chosen.get(key) == value for key, value in pretrained.items()):
        return "pretrained"
    return declared.role


def models_for(wanted: str) -> tuple[str, ...]:
    """Every model of the role `wanted` (see role), in registry order: a new model folder is found here."""
    return tuple(name for name in model_names() if role(name) == wanted)


def _import_spec(base: str) -> ModuleType:
    return importlib.import_module(f"models.{base}.spec")


def _spec(base: str) -> Spec:
    return _import_spec(base).SPEC


def spec(name: str) -> Spec:
    """The Spec of a model (variant names accepted)."""
    return _spec(parse(name)[0])


def paper_parts() -> tuple[tuple[str, str, str], ...]:
    """Every paper's part as (model, recipe, dataset), from the specs' `parts`, in registry order (the papers'
    order: r0 first); the model named canonically (bench.spec.registry.variant)."""
    return tuple(
        (variant(base, **parse(f"{base}:{part.variant}")[1]), part.recipe, part.dataset)
        for base in base_names()
        for part in _spec(base).parts
    )


def layers(name: str, num_classes: int, resize: int | None = None) -> list:
    """The model's layer list for `num_classes` classes; first a bilinear Resize to `resize` pixels where a
    recipe resizes its input (bench.spec.recipes.Recipe.resize)."""
    base, options = parse(name)
    resizing = [spec_layers.Resize(resize)] if resize else []
    return resizing + _import_spec(base).layers(num_classes, **options)

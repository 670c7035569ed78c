"""Model names -> specs and per-framework builders, imported lazily.

Every folder `impls/<name>/` with a `spec.py` is a model. Listing names and reading specs
imports no framework; `builder(name, framework)` imports `impls/<name>/<framework>_impl.py`
only when a trial needs it (the lazy registry of timm and AlgoPerf).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType

from bench.errors import BenchError

IMPLS_DIR = Path(__file__).resolve().parents[1] / "impls"
FRAMEWORKS = ("torch", "keras")


def model_names() -> list[str]:
    return sorted(p.parent.name for p in IMPLS_DIR.glob("*/spec.py"))


def spec(name: str) -> ModuleType:
    """The model's spec module: REPORT, DESCRIPTION, INTERPRETATION, layers(num_classes)."""
    if name not in model_names():
        raise BenchError(f"unknown model {name!r}; choose from {', '.join(model_names())}")
    return importlib.import_module(f"impls.{name}.spec")


def builder(name: str, framework: str):
    """The `build(num_classes)` function of one model in one framework."""
    spec(name)
    if framework not in FRAMEWORKS:
        raise BenchError(f"unknown framework {framework!r}; choose from {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"impls.{name}.{framework}_impl").build


def missing_framework(framework: str) -> str | None:
    """Why `framework` cannot run here (a sentence), or None when it can; imports nothing."""
    if framework not in FRAMEWORKS:
        raise BenchError(f"unknown framework {framework!r}; choose from {', '.join(FRAMEWORKS)}")
    if framework == "torch" and importlib.util.find_spec("torch") is None:
        return "torch is not installed (pip install 'cnnbench[torch]')"
    if framework == "keras":
        if importlib.util.find_spec("keras") is None:
            return "keras is not installed (pip install 'cnnbench[keras]')"
        backend = keras_backend()
        if importlib.util.find_spec(backend) is None:
            return f"keras backend {backend!r} (KERAS_BACKEND) is not installed"
    return None


def keras_backend() -> str:
    """The keras backend a trial will use: $KERAS_BACKEND, else keras's default, tensorflow."""
    return os.environ.get("KERAS_BACKEND", "tensorflow")

"""The frameworks cnnbench trains in: where each adapter lives, what each needs installed, and which execution
options each honours.

This module imports no framework: the driver asks it what can run before any trial process starts. Adding a
framework is a folder here (as torch/ and keras/) whose adapter.py subclasses bench.frameworks.base.Adapter and
registers itself (`@register`), plus its line in each table below.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import fields

from bench.errors import BenchError

ADAPTER_MODULES = {"torch": "bench.frameworks.torch.adapter", "keras": "bench.frameworks.keras.adapter"}
FRAMEWORKS = tuple(ADAPTER_MODULES)
# What each framework's adapter needs installed: (module, extra that installs it).
REQUIRES = {"torch": ("torch", "cnnbench[torch]"), "keras": ("keras", "cnnbench[keras]")}
# The packages of each framework whose versions every record keeps (bench.measure.provenance).
VERSIONED_PACKAGES = {"torch": ("torch", "torchvision"), "keras": ("keras", "tensorflow", "tensorflow-cpu", "jax")}

# The version columns of the leaderboard's Environment table: each a package, or the first found of its builds.
ENVIRONMENT_PACKAGES = {
    "torch": ("torch",),
    "keras": ("keras",),
    "jax": ("jax",),
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
}

# The execution options each framework honours when set away from their default (see bench.spec.execution.Execution).
# Keras models are channels-last already, so the option is accepted and changes nothing there.
HONOURED = {
    "torch": {"amp", "channels_last", "compile", "loader", "fused_optimizer", "cudnn_benchmark"},
    "keras": {"amp", "channels_last", "compile", "steps_per_execution"},
}

DEFAULT_KERAS_BACKEND = {"cpu": "tensorflow", "cuda": "jax"}
# Frameworks with more than one backend: the environment variable that picks it, and the default per device.
BACKEND_VARIABLE = {"keras": "KERAS_BACKEND"}
DEFAULT_BACKEND = {"keras": DEFAULT_KERAS_BACKEND}
# The framework whose semantics the others follow (keras's optimizers take torch's conventions) and against
# which the leaderboard reads every other framework's row of the same configuration.
REFERENCE_FRAMEWORK = "torch"
COMPARED = "/".join(f for f in FRAMEWORKS if f != REFERENCE_FRAMEWORK) + f"/{REFERENCE_FRAMEWORK}"  # "keras/torch"
COMPARED_DIFFERENCE = COMPARED.replace("/", " - ")  # "keras - torch"


def unsupported(framework: str, execution) -> str | None:
    """Why `framework` cannot run with these execution options (naming the option and who has it), or None."""
    for option in fields(execution):
        value = getattr(execution, option.name)
        if value != option.default and option.name not in HONOURED[framework]:
            others = sorted(name for name, honoured in HONOURED.items() if option.name in honoured)
            shown = option.name.replace("_", "-")
            setting = f"the {value} loader" if option.name == "loader" else f"--{shown}"
            return f"{setting} is {'/'.join(others)}-only" if others else f"--{shown} is not supported"
    return None


def missing_framework(framework: str, device: str = "cpu") -> str | None:
    """Why `framework` cannot run here (a sentence), or None when it can; imports nothing."""
    if framework not in FRAMEWORKS:
        raise BenchError(f"unknown framework {framework!r}; choose from {', '.join(FRAMEWORKS)}")
    module, extra = REQUIRES[framework]
    if importlib.util.find_spec(module) is None:
        return f"{framework} is not installed (pip install '{extra}')"
    if framework == "keras":
        backend = keras_backend(device)
        if importlib.util.find_spec(backend) is None:
            return f"keras backend {backend!r} (KERAS_BACKEND) is not installed"
    return None


def backend_for(framework: str, device: str) -> str | None:
    """The backend a trial of `framework` on `device` runs on, recorded with it: keras's (keras_backend);
    None for a framework with a single backend."""
    return keras_backend(device) if framework == "keras" else None


def backend_environment(framework: str, backend: str | None) -> dict[str, str]:
    """The environment variables that make a process of `framework` run on `backend` (none without one)."""
    return {BACKEND_VARIABLE[framework]: backend} if backend else {}


def default_backend(framework: str, device: str) -> str | None:
    """The backend `framework` runs on by default on `device` (what no environment variable changed), or None."""
    return DEFAULT_BACKEND.get(framework, {}).get(device)


def keras_backend(device: str = "cpu") -> str:
    """The keras backend a trial will use: $KERAS_BACKEND, else the device's default: keras's own,
    TensorFlow, on a CPU; JAX on a GPU (the GPU extra installs jax[cuda12]; on the H200, keras on JAX
    ran where keras on torch crashed, and TensorFlow's CUDA build is not in the lent machines' images)."""
    return os.environ.get("KERAS_BACKEND", DEFAULT_KERAS_BACKEND.get(device, "tensorflow"))

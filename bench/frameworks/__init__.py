"""The frameworks cnnbench trains in, one record each (`Framework`): where its adapter lives, what it needs
installed, which packages' versions every record keeps, which execution options it honours, how its backend is
picked, and whether the leaderboard reads the others against it.

This module imports no framework: the driver asks it what can run before any trial process starts. Adding a
framework is a folder here (as torch/ and keras/) whose adapter.py subclasses bench.frameworks.base.Adapter and
registers itself (`@register`), plus its record in RECORDS.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, fields

from bench.errors import BenchError


@dataclass(frozen=True)
class Framework:
    """One framework, as the driver knows it without importing it."""

    name: str
    adapter_module: str  # registers the adapter (bench.frameworks.base.register)
    requires: str  # the module the adapter imports
    extra: str  # what installs it
    versioned_packages: tuple[str, ...]  # whose versions every record keeps (bench.measure.provenance)
    honoured: frozenset[str]  # execution options honoured away from their default (bench.spec.execution)
    backend_variable: str | None = None  # the environment variable that picks its backend, where it has several
    default_backends: tuple[tuple[str, str], ...] = ()  # (device, backend) where no variable picks one
    reference: bool = False  # the one the leaderboard reads every other framework's same configuration against

    def backend(self, device: str = "cpu") -> str | None:
        """The backend a trial on `device` runs on: the variable's, else the device's default; None for a
        framework with one backend."""
        if not self.backend_variable:
            return None
        defaults = dict(self.default_backends)
        return os.environ.get(self.backend_variable, defaults.get(device, defaults["cpu"]))


RECORDS = (
    # torch's semantics are the ones the others follow (keras's optimizers take torch's conventions).
    Framework(
        "torch",
        "bench.frameworks.torch.adapter",
        "torch",
        "cnnbench[torch]",
        ("torch", "torchvision"),
        frozenset({"amp", "channels_last", "compile", "loader", "fused_optimizer", "cudnn_benchmark"}),
        reference=True,
    ),
    # Keras models are channels-last already: the option is accepted and changes nothing there. Its backend:
    # TensorFlow on a CPU (keras's own default); JAX on a GPU (the GPU extra installs jax[cuda12]; on the H200,
    # keras on JAX ran where keras on torch crashed, and TensorFlow's CUDA build is not in the lent machines' images).
    Framework(
        "keras",
        "bench.frameworks.keras.adapter",
        "keras",
        "cnnbench[keras]",
        ("keras", "tensorflow", "tensorflow-cpu", "jax"),
        frozenset({"amp", "channels_last", "compile", "steps_per_execution"}),
        backend_variable="KERAS_BACKEND",
        default_backends=(("cpu", "tensorflow"), ("cuda", "jax")),
    ),
)
FRAMEWORKS = tuple(record.name for record in RECORDS)
REFERENCE_FRAMEWORK = next(record.name for record in RECORDS if record.reference)
COMPARED = "/".join(f for f in FRAMEWORKS if f != REFERENCE_FRAMEWORK) + f"/{REFERENCE_FRAMEWORK}"  # "keras/torch"
COMPARED_DIFFERENCE = COMPARED.replace("/", " - ")  # "keras - torch"


def framework(name: str) -> Framework:
    """The record of the framework called `name`; a one-line error naming the others where there is none."""
    for record in RECORDS:
        if record.name == name:
            return record
    raise BenchError(f"unknown framework {name!r}; choose from {', '.join(FRAMEWORKS)}")


def unsupported(name: str, execution) -> str | None:
    """Why framework `name` cannot run with these execution options (naming the option and who has it), or None."""
    for option in fields(execution):
        value = getattr(execution, option.name)
        if value != option.default and option.name not in framework(name).honoured:
            others = sorted(record.name for record in RECORDS if option.name in record.honoured)
            shown = option.name.replace("_", "-")
            setting = f"the {value} loader" if option.name == "loader" else f"--{shown}"
            return f"{setting} is {'/'.join(others)}-only" if others else f"--{shown} is not supported"
    return None


def missing_framework(name: str, device: str = "cpu") -> str | None:
    """Why framework `name` cannot run here (a sentence), or None when it can; imports nothing."""
    record = framework(name)
    if importlib.util.find_spec(record.requires) is None:
        return f"{name} is not installed (pip install '{record.extra}')"
    backend = record.backend(device)
    if backend and importlib.util.find_spec(backend) is None:
        return f"{name} backend {backend!r} ({record.backend_variable}) is not installed"
    return None


def backend_for(name: str, device: str) -> str | None:
    """The backend a trial of framework `name` on `device` runs on, recorded with it; None for a framework with
    a single backend."""
    return framework(name).backend(device)


def backend_environment(name: str, backend: str | None) -> dict[str, str]:
    """The environment variables that make a process of framework `name` run on `backend` (none without one)."""
    return {framework(name).backend_variable: backend} if backend else {}


def default_backend(name: str, device: str) -> str | None:
    """The backend framework `name` runs on by default on `device` (what no environment variable changed), or None."""
    return dict(framework(name).default_backends).get(device)

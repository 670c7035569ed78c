"""The small interface every framework implements, and how the harness finds one lazily.

An adapter turns (neutral layer list, recipe, uint8 data, device, seed) into a trained model:
it owns everything framework-specific (tensors, augmentation, optimizer, device sync).
The trial loop, timing and every metric stay framework-neutral, in `bench.run.trial`.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.frameworks import framework as framework_record
from bench.frameworks import unsupported
from bench.spec.execution import Execution
from bench.spec.layers import INPUT_SHAPE
from bench.spec.recipes import Recipe

EVAL_BATCH_SIZE = 1000  # images per inference batch; does not change any result


INITS = ("native", "torch", "keras")  # native: the spec's init where it has one, else each framework's default


@dataclass(frozen=True)
class EpochStats:
    """What a framework reports about one training epoch (the runner times it)."""

    loss: float  # mean training loss over the epoch's batches, as the framework computes it
    accuracy: float  # on the augmented training batches
    learning_rate: float  # at the end of the epoch


class Adapter(abc.ABC):
    """The contract between the framework-neutral harness (bench.run.trial) and one framework: everything the
    harness calls. A subclass in bench/frameworks/ registers itself with `@register`;
    tests/test_adapter_conformance.py runs the same checks against every registered adapter."""

    name: ClassVar[str]  # the framework's name, as in bench.frameworks.FRAMEWORKS

    def supports(self, execution: Execution) -> str | None:
        """Why this framework cannot run with these execution options, or None (the `honoured` options of its
        bench.frameworks.Framework)."""
        return unsupported(self.name, execution)

    @abc.abstractmethod
    def check_device(self, device: str) -> None:
        """Raise BenchError naming the fix when `device` is unusable."""

    @abc.abstractmethod
    def setup(self, device: str, threads: int, seed: int, execution: Execution = Execution()) -> None:
        """Threads, seeds, numerics; refuses (BenchError) options it does not support."""

    @abc.abstractmethod
    def build(self, layers: list, name: str, input_shape: tuple = INPUT_SHAPE) -> Any:
        """The model of a bench.spec.layers list, for (height, width, channels) images of `input_shape`."""

    @abc.abstractmethod
    def load_weights(self, model, layers: list, weights: dict) -> None:
        """Weights in torch's layout, by spec layer name; layers absent keep their initialisation."""

    @abc.abstractmethod
    def export_weights(self, model, layers: list) -> dict[str, dict[str, np.ndarray]]:
        """Every weighted layer's tensors in torch's layout by spec layer name (what load_weights reads):
        weight, bias, running_mean, running_var."""

    @abc.abstractmethod
    def logits(self, model, inputs: np.ndarray) -> np.ndarray:
        """Inference-mode logits of float NHWC inputs taken as they are (no normalisation)."""

    @abc.abstractmethod
    def initialise(self, model, scheme: str, seed: int) -> None:
        """Re-initialise as "torch" or "keras" does ("native" changes nothing)."""

    @abc.abstractmethod
    def count_params(self, model) -> tuple[int, int]:
        """(trainable, non-trainable) parameter counts, as bench.spec.layers.count_params counts them."""

    @abc.abstractmethod
    def freeze(self, model, state, names: set[str]) -> None:
        """Fine-tuning: the layers named frozen (BatchNorm on its running statistics), the others trainable,
        with a fresh optimizer."""

    @abc.abstractmethod
    def prepare(
        self,
        model,
        recipe: Recipe,
        train_x: np.ndarray,
        train_y: np.ndarray,
        mean: tuple,
        std: tuple,
        seed: int,
        class_weights: list[float] | None = None,
    ) -> Any:
        """The training state: data on the device, optimizer, loss; returned to every later call."""

    @abc.abstractmethod
    def train_epoch(self, model, state, order: np.ndarray, learning_rates: np.ndarray) -> EpochStats:
        """One epoch over the training images in `order`, step i at learning_rates[i]; reads nothing back from
        the device before the epoch ends."""

    @abc.abstractmethod
    def snapshot(self, model) -> Any:
        """A copy of every weight, for early stopping's best epoch."""

    @abc.abstractmethod
    def restore(self, model, snapshot) -> None:
        """Put a snapshot's weights back."""

    @abc.abstractmethod
    def save_checkpoint(self, model, state, folder: Path, best_weights) -> None:
        """The training state after an epoch, into the existing `folder`, in the framework's own formats: the
        weights, the optimizer, every random generator training draws from, and `best_weights` (a `snapshot`,
        or None)."""

    @abc.abstractmethod
    def load_checkpoint(self, model, state, folder: Path) -> Any:
        """Put back what `save_checkpoint` wrote into a model and state prepared as it was (the optimizer made
        for the same fine-tuning phase); returns its `best_weights`."""

    @abc.abstractmethod
    def predict(self, model, state, images: np.ndarray) -> np.ndarray:
        """Logits (float32) of uint8 NHWC images, in inference mode, normalised as in training."""

    @abc.abstractmethod
    def serve(self, model, state, images: np.ndarray) -> np.ndarray:
        """Logits of one batch of uint8 NHWC images by the framework's fastest documented serving path (what a
        deployment calls per request: images in, logits on the host out); `serving_path` names it."""

    @abc.abstractmethod
    def serving_path(self) -> str:
        """How `serve` runs, for the record: e.g. 'torch no_grad, eager'."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait for the device's queued work (before the clock is read)."""

    @abc.abstractmethod
    def settings(self, model) -> dict:
        """The speed and numerics settings in force: the keys of SETTINGS, None where not applicable."""

    @abc.abstractmethod
    def peak_device_memory(self) -> dict:
        """{"peak_device_bytes", "peak_device_measures"}: the device's peak and what it measures (None on a CPU)."""

    @abc.abstractmethod
    def is_oom(self, error: BaseException) -> bool:
        """Whether `error` is this framework's out-of-memory error, by its type."""

    @abc.abstractmethod
    def calibration_workload(self, matmul_size: int, conv_shape: tuple) -> tuple[Callable, Callable]:
        """The calibration's two ops as callables on random float32 data of the device (timed with
        `synchronize` after each call): an (n x n) @ (n x n) matmul and a 3x3 'same' convolution of
        `conv_shape` (batch, channels, height, width), channels in -> channels out."""


# What every adapter's settings() reports (the leaderboard's fairness manifest reads them).
SETTINGS = (
    "backend",
    "device_name",
    "cuda_version",
    "threads_intra_op",
    "threads_inter_op",
    "tf32_matmul",
    "cudnn_benchmark",
    "compile",
    "precision",
    "memory_format",
    "loader",
    "fused_optimizer",
    "steps_per_execution",
)

_REGISTERED: dict[str, type[Adapter]] = {}


def register(adapter: type[Adapter]) -> type[Adapter]:
    """Class decorator: make `adapter` the one get_adapter returns for its framework's name."""
    _REGISTERED[adapter.name] = adapter
    return adapter


def get_adapter(framework: str) -> Adapter:
    """Import one framework's adapter module (and the framework) only when asked; it registers itself."""
    if framework not in _REGISTERED:
        importlib.import_module(framework_record(framework).adapter_module)
    return _REGISTERED[framework]()

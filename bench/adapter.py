"""The small interface every framework implements, and how the harness finds one lazily.

An adapter turns (model builder, recipe, uint8 data, device, seed) into a trained model:
it owns everything framework-specific (tensors, augmentation, optimizer, device sync).
The trial loop, timing and every metric stay framework-neutral, in `bench.trial`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from bench.recipes import Recipe

EVAL_BATCH_SIZE = 1000  # images per inference batch; does not change any result


AMP = ("off", "bf16", "fp16")
COMPILE = ("off", "default", "reduce-overhead", "max-autotune")  # reduce-overhead: CUDA graphs on a GPU
LOADERS = ("fast", "naive")
INITS = ("native", "torch", "keras")  # native: each framework's own default initialisation


@dataclass(frozen=True)
class Execution:
    """How a trial runs, apart from what it trains: speed options, recorded as the row's variant.

    fast loader: data resident on the device as uint8, augmented in batches there (both frameworks).
    naive loader (torch only): a DataLoader over per-image PIL transforms, what the reports did.
    Which framework honours which option: bench.frameworks.unsupported.
    """

    amp: str = "off"  # mixed precision: off | bf16 | fp16 (keras: mixed_bfloat16 / mixed_float16 policy)
    channels_last: bool = False  # torch memory format (keras is always channels-last)
    compile: str = "off"  # torch.compile mode; keras: jit_compile=True for anything but off
    loader: str = "fast"
    fused_optimizer: bool = False  # torch: the optimizer's fused kernel (fused=True): one launch per step
    cudnn_benchmark: bool = False  # torch: cuDNN autotunes its convolution algorithms (timing rule changes)
    steps_per_execution: int = 1  # keras: training steps per call of the compiled step function

    @classmethod
    def of(cls, config) -> "Execution":
        """The execution options of a trial config or an entry (an object or a dict); absent ones default."""
        get = config.get if isinstance(config, dict) else lambda name, default: getattr(config, name, default)
        return cls(**{f.name: get(f.name, f.default) for f in fields(cls)})

    def label(self) -> str:
        parts = [self.loader] + ([self.amp] if self.amp != "off" else []) + \
                (["channels-last"] if self.channels_last else []) + \
                ([f"compile={self.compile}"] if self.compile != "off" else []) + \
                (["fused-optimizer"] if self.fused_optimizer else []) + \
                (["cudnn-benchmark"] if self.cudnn_benchmark else []) + \
                ([f"steps-per-execution={self.steps_per_execution}"] if self.steps_per_execution != 1 else [])
        return "+".join(parts)


EXECUTION_OPTIONS = tuple(f.name for f in fields(Execution))


@dataclass(frozen=True)
class EpochStats:
    """What a framework reports about one training epoch (the runner times it)."""

    loss: float  # mean training loss over the epoch's batches, as the framework computes it
    accuracy: float  # on the augmented training batches
    learning_rate: float  # at the end of the epoch


class Adapter(Protocol):
    name: str

    def check_device(self, device: str) -> None: ...  # BenchError naming the fix when `device` is unusable
    def setup(self, device: str, threads: int, seed: int, execution: Execution = Execution()) -> None: ...
    def build(self, layers: list, name: str) -> Any: ...  # from a bench.layers list
    def load_weights(self, model, layers: list, weights: dict) -> None: ...  # torch-format, by spec name
    def initialise(self, model, scheme: str, seed: int) -> None: ...  # "torch" | "keras" initialisation
    def count_params(self, model) -> tuple[int, int]: ...  # (trainable, non-trainable)
    def freeze(self, model, state, names: set[str]) -> None: ...  # fine-tuning: these layers frozen, others not
    def prepare(self, model, recipe: Recipe, train_x: np.ndarray, train_y: np.ndarray,
                mean: tuple, std: tuple, seed: int, class_weights: list[float] | None = None) -> Any: ...
    def train_epoch(self, model, state, order: np.ndarray, learning_rates: np.ndarray) -> EpochStats: ...
    def snapshot(self, model) -> Any: ...  # a copy of every weight, for early stopping's best epoch
    def restore(self, model, snapshot) -> None: ...
    def predict(self, model, state, images: np.ndarray) -> np.ndarray: ...  # logits
    def synchronize(self) -> None: ...
    def settings(self, model) -> dict: ...  # versions and speed/numerics settings in force
    def peak_device_memory(self) -> dict: ...  # peak_device_bytes and what it measures (None on a CPU)


def get_adapter(framework: str) -> Adapter:
    """Import one framework's adapter module (and the framework) only when asked."""
    module = importlib.import_module(f"bench.frameworks.{framework}_backend")
    return module.Adapter()

"""Framework work for the tests, run in one spawned process per framework (see `framework_process`).

TensorFlow and torch both computing in one process can crash it (their thread pools clash), so
the test process itself never computes in either: it sends these functions to a process that
only ever uses one framework.
"""

from __future__ import annotations

import numpy as np

from bench import data, registry
from bench.adapter import get_adapter
from bench.recipes import get_recipe


def _adapter(framework: str, seed: int = 0):
    adapter = get_adapter(framework)
    adapter.setup("cpu", threads=2, seed=seed)
    return adapter


def parameter_counts(framework: str, model: str, num_classes: int) -> tuple[int, int]:
    adapter = _adapter(framework)
    return adapter.count_params(adapter.build(registry.builder(model, framework), num_classes))


def first_epoch_loss(framework: str, seed: int) -> float:
    adapter = _adapter(framework, seed)
    model = adapter.build(registry.builder("r2_vanilla_cnn", framework), 10)
    dataset = data.synthetic(train=256, test=8, seed=3)
    recipe = get_recipe("baseline").with_overrides(batch_size=64)
    mean, std = data.NORMALISATION["cifar10"]
    state = adapter.prepare(model, recipe, dataset.train_x, dataset.train_y, mean, std, seed)
    order = np.random.default_rng(seed).permutation(256)
    return adapter.train_epoch(model, state, order).loss


def augment(framework: str, images: np.ndarray, padding: int, flip: bool) -> np.ndarray:
    if framework == "torch":
        import torch

        from bench.frameworks.torch_backend import augment

        generator = torch.Generator().manual_seed(0)
        return augment(torch.from_numpy(images), padding, flip, generator).numpy()
    import keras

    from bench.frameworks.keras_backend import augment

    out = augment(keras.ops.convert_to_tensor(images), padding, flip, keras.random.SeedGenerator(0))
    return keras.ops.convert_to_numpy(out)


_EPOCHS: dict[str, tuple] = {}  # model -> (adapter, model, state, images), kept in this process between calls


def prepare_epoch(framework: str, model: str, images: int, batch_size: int) -> dict:
    """Build `model` and its optimizer on an `images`-image slice of CIFAR-10 (synthetic when absent)."""
    adapter = _adapter(framework)
    built = adapter.build(registry.builder(model, framework), 10)
    try:
        dataset = data.load("cifar10")
    except Exception:
        dataset = data.synthetic()
    splits = data.split(dataset, val_size=0, train_subset=images)
    recipe = get_recipe("baseline").with_overrides(batch_size=batch_size)
    mean, std = data.NORMALISATION["cifar10"]
    state = adapter.prepare(built, recipe, splits.train_x, splits.train_y, mean, std, 0)
    _EPOCHS[model] = (adapter, built, state, images)
    return {"dataset": dataset.label, **{k: v for k, v in adapter.settings(built).items() if v is not None}}


def train_one_epoch(framework: str, model: str) -> float:
    """One training epoch of the prepared model, ended by a device synchronisation; returns its loss."""
    adapter, built, state, images = _EPOCHS[model]
    stats = adapter.train_epoch(built, state, np.arange(images))
    adapter.synchronize()
    return stats.loss

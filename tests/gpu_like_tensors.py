"""Keras on the torch backend with torch tensors that refuse numpy as CUDA tensors do, on the CPU.

On a GPU, numpy cannot read a torch tensor ("can't convert cuda:0 device type tensor to numpy");
keras's own converter copies it to the host first. Here every other numpy read of a tensor fails
the same way, so one keras training epoch and one prediction show, on a CPU, whether anything in
the keras adapter (or in keras) would break on a GPU. Run as `python -m tests.gpu_like_tensors`
with KERAS_BACKEND=torch; it prints the epoch's loss and the logits' shape.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

NUMPY_READS = {"__array__": torch.Tensor.__array__, "numpy": torch.Tensor.numpy}


def _through_keras_converter() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "convert_to_numpy" and code.co_filename.endswith("backend/torch/core.py"):
            return True
        frame = frame.f_back
    return False


def _gpu_like(name: str):
    def read(self, *args, **kwargs):
        if _through_keras_converter():
            return NUMPY_READS[name](self, *args, **kwargs)
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    return read


def main() -> None:
    for name in NUMPY_READS:
        setattr(torch.Tensor, name, _gpu_like(name))
    from bench.data import cifar
    from bench.frameworks.base import get_adapter
    from bench.spec import registry
    from bench.spec.recipes import get_recipe

    adapter = get_adapter("keras")
    adapter.setup("cpu", threads=2, seed=0)
    model = adapter.build(registry.layers("r2_vanilla_cnn", 10), "r2_vanilla_cnn")
    dataset = cifar.synthetic(train=300, test=8, seed=3)
    # Every input path of the adapter: augmentation, jitter and rotation, mixup, class weights.
    recipe = get_recipe("baseline").with_overrides(batch_size=64, mixup_alpha=0.2, jitter=0.2, rotation=10.0)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(
        model, recipe, dataset.train_x, dataset.train_y, mean, std, 0, [1.0] * 3 + [2.0] + [1.0] * 6
    )
    stats = adapter.train_epoch(model, state, np.arange(300), np.full(5, 1e-3))
    logits = adapter.predict(model, state, dataset.train_x)
    print(stats.loss, "x".join(map(str, logits.shape)))


if __name__ == "__main__":
    main()

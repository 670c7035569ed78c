"""A model's own weight initialisation, where its spec declares one (`Spec.init`), drawn once in numpy.

torchvision's constructors initialise some layouts their own way, not with the layers' defaults: SqueezeNet
draws every convolution kaiming-uniform (gain sqrt 2) and its classifier convolution normal(0, 0.01), biases
zero. A spec naming such a scheme trains as its paper's model did. The weights are drawn in torch's layout and
loaded into either framework by name, so both frameworks start from the same weights.

`Spec.init` maps a layer name to its rule, "*" to every other convolution and dense layer:
("kaiming_uniform", a) is torch's `kaiming_uniform_(w, a)`, uniform in +-sqrt(6 / ((1 + a^2) fan_in));
("normal", std). Biases start at zero; BatchNorm keeps its usual start (weight 1, bias 0).
"""

from __future__ import annotations

import math

import numpy as np

from bench.spec import layers as L


def _draw(rule: tuple, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    kind, value = rule
    if kind == "kaiming_uniform":
        fan_in = math.prod(shape[1:])
        bound = math.sqrt(6 / ((1 + value**2) * fan_in))
        return rng.uniform(-bound, bound, shape).astype(np.float32)
    if kind == "normal":
        return rng.normal(0.0, value, shape).astype(np.float32)
    raise ValueError(f"unknown initialisation rule {kind!r}")


def initial_weights(layer_list: list, input_shape: L.Shape, init: dict, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """The convolutions' and dense layers' starting weights under `init` (see the module), by layer name, in
    torch's layout (what every adapter's `load_weights` reads)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, tensors in L.torch_tensor_shapes(layer_list, input_shape).items():
        if "running_mean" in tensors:  # BatchNorm
            continue
        rule = init.get(name, init["*"])
        weights[name] = {"weight": _draw(rule, tensors["weight"], rng)}
        if "bias" in tensors:
            weights[name]["bias"] = np.zeros(tensors["bias"], np.float32)
    return weights

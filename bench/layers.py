"""A framework-neutral description of plain feed-forward CNNs, read by both framework builders.

A model spec lists its layers once, with explicit names, so the torch and keras builders
produce the same network with the same layer names (weights map across by name), and the
forward FLOPs can be counted once, from the spec, for both frameworks.

Framework defaults are fixed here, not inherited: BatchNorm uses epsilon 1e-5 and torch's
momentum 0.1 (keras momentum 0.9, the same update); convolutions with 'same' padding are
only used at stride 1, where both frameworks pad symmetrically.
"""

from __future__ import annotations

from dataclasses import dataclass

BN_EPSILON = 1e-5
BN_MOMENTUM_TORCH = 0.1  # new = (1 - m) * old + m * batch; keras writes the same as momentum 1 - m


@dataclass(frozen=True)
class Conv:
    name: str
    filters: int
    kernel: int = 3
    padding: str = "same"  # "same" (stride 1 only) or "valid"


@dataclass(frozen=True)
class BatchNorm:
    name: str


@dataclass(frozen=True)
class ReLU:
    pass


@dataclass(frozen=True)
class MaxPool:
    size: int = 2


@dataclass(frozen=True)
class Dropout:
    rate: float


@dataclass(frozen=True)
class Flatten:
    pass


@dataclass(frozen=True)
class Dense:
    name: str
    units: int


Layer = Conv | BatchNorm | ReLU | MaxPool | Dropout | Flatten | Dense


def shapes(layers: list[Layer], input_shape=(32, 32, 3)):
    """Yield (layer, output shape) along the network; shapes are (height, width, channels) or (features,)."""
    shape = tuple(input_shape)
    for layer in layers:
        if isinstance(layer, Conv):
            height, width, _ = shape
            if layer.padding == "valid":
                height, width = height - layer.kernel + 1, width - layer.kernel + 1
            shape = (height, width, layer.filters)
        elif isinstance(layer, MaxPool):
            shape = (shape[0] // layer.size, shape[1] // layer.size, shape[2])
        elif isinstance(layer, Flatten):
            shape = (shape[0] * shape[1] * shape[2],)
        elif isinstance(layer, Dense):
            shape = (layer.units,)
        yield layer, shape


def forward_flops(layers: list[Layer], input_shape=(32, 32, 3)) -> int:
    """Forward FLOPs per image (2 per multiply-add, convs and dense layers only, as torch counts)."""
    flops, channels_in = 0, input_shape[-1]
    for layer, shape in shapes(layers, input_shape):
        if isinstance(layer, Conv):
            flops += 2 * shape[0] * shape[1] * layer.kernel ** 2 * channels_in * layer.filters
        elif isinstance(layer, Dense):
            flops += 2 * channels_in * layer.units
        channels_in = shape[-1]
    return flops


def count_params(layers: list[Layer], input_shape=(32, 32, 3)) -> tuple[int, int]:
    """(trainable, non-trainable) parameters; BatchNorm's running mean and variance are non-trainable."""
    trainable = frozen = 0
    channels_in = input_shape[-1]
    for layer, shape in shapes(layers, input_shape):
        if isinstance(layer, Conv):
            trainable += layer.kernel ** 2 * channels_in * layer.filters + layer.filters
        elif isinstance(layer, Dense):
            trainable += channels_in * layer.units + layer.units
        elif isinstance(layer, BatchNorm):
            trainable += 2 * shape[-1]
            frozen += 2 * shape[-1]
        channels_in = shape[-1]
    return trainable, frozen

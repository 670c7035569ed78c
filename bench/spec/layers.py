"""A framework-neutral description of CNNs, read by both framework builders.

A model spec lists its layers once, with explicit names, so the torch and keras builders
produce the same network with the same layer names (weights map across by name), and
parameters and forward FLOPs are counted once, from the spec, for both frameworks.
Besides plain layers there are three composite blocks: `Residual` (ResNet blocks, MBConv),
`Concat` (SqueezeNet's Fire expand) and `Gate` (squeeze-and-excitation).

Framework defaults are fixed here, not inherited:
- BatchNorm: epsilon 1e-5, torch momentum 0.1 (keras momentum 0.9: the same update).
- Padding is explicit and symmetric (torch's rule). Keras pads strided convolutions
  asymmetrically under 'same', so its builder adds a ZeroPadding2D and a 'valid' conv instead.
- Max-pool padding (and torch's ceil_mode) is zero padding on the keras side, equal to torch's
  -inf padding only for non-negative inputs: every padded pool here follows a ReLU.
- Weight initialisation is each framework's default (torch: kaiming-uniform(a=sqrt 5) weights
  and uniform biases; keras: glorot-uniform weights and zero biases).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

BN_EPSILON = 1e-5
BN_MOMENTUM_TORCH = 0.1  # new = (1 - m) * old + m * batch; keras writes the same as momentum 1 - m

Shape = tuple[int, ...]  # (height, width, channels) or (features,)


@dataclass(frozen=True)
class Conv:
    name: str
    filters: int
    kernel: int = 3
    stride: int = 1
    padding: int | None = None  # symmetric zero padding; None: kernel // 2 ('same' at stride 1)
    bias: bool = True
    depthwise: bool = False  # one filter per input channel; `filters` must equal the input channels
    l2: float = 0.0  # penalty l2 * sum(kernel ** 2) added to the loss (keras kernel_regularizer)

    @property
    def pad(self) -> int:
        return self.kernel // 2 if self.padding is None else self.padding


@dataclass(frozen=True)
class BatchNorm:
    name: str


@dataclass(frozen=True)
class Activation:
    kind: str  # relu | silu | sigmoid | gelu (exact, erf-based: torch's nn.GELU and keras's gelu default)


def ReLU() -> Activation:  # noqa: N802  (reads like a layer in the specs)
    return Activation("relu")


def GELU() -> Activation:  # noqa: N802
    return Activation("gelu")


@dataclass(frozen=True)
class Scale:
    """Multiply by a constant (airbench's logit scale): no weights."""

    factor: float


@dataclass(frozen=True)
class MaxPool:
    size: int = 2
    stride: int | None = None  # None: size
    padding: int = 0
    ceil: bool = False  # torch's ceil_mode: a last, partial window counts

    def output(self, length: int) -> int:
        stride = self.stride or self.size
        span = length + 2 * self.padding - self.size
        out = -(-span // stride) + 1 if self.ceil else span // stride + 1
        if self.ceil and (out - 1) * stride >= length + self.padding:
            out -= 1  # torch: the last window must start inside the input or the left padding
        return out


@dataclass(frozen=True)
class GlobalAvgPool:
    keepdims: bool = False


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average-pool to size x size (torchvision's VGG head). Supported where one side is a whole multiple of
    the other: 32x32 inputs leave VGG's features at 1x1 (then every output cell is that one value), 224x224
    at 7x7 (then it changes nothing)."""

    size: int


@dataclass(frozen=True)
class Resize:
    """Bilinear resize of the input images to size x size (half-pixel centres, no antialiasing: torch's
    align_corners=False), batched on the device: fine-tuning ImageNet weights at their resolution."""

    size: int


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
    bias: bool = True
    l2: float = 0.0  # penalty l2 * sum(kernel ** 2) added to the loss


@dataclass(frozen=True)
class Residual:
    """activation(body(x) + shortcut(x)); an empty shortcut is the identity."""

    name: str
    body: list = field(default_factory=list)
    shortcut: list = field(default_factory=list)
    activation: str | None = None


@dataclass(frozen=True)
class Concat:
    """Channel concatenation of branches applied to the same input."""

    name: str
    branches: list = field(default_factory=list)


@dataclass(frozen=True)
class Gate:
    """x * body(x): the body maps x to per-channel weights (squeeze-and-excitation)."""

    name: str
    body: list = field(default_factory=list)


def output_shape(layer, shape: Shape) -> Shape:
    """The shape a leaf layer produces from `shape`."""
    if isinstance(layer, Conv):
        height, width, channels = shape
        if layer.depthwise and layer.filters != channels:
            raise ValueError(f"depthwise conv {layer.name} needs filters == input channels ({channels})")
        size = [(n + 2 * layer.pad - layer.kernel) // layer.stride + 1 for n in (height, width)]
        return (*_some_pixels(size, f"conv {layer.name}", shape), layer.filters)
    if isinstance(layer, MaxPool):
        size = [layer.output(shape[0]), layer.output(shape[1])]
        return (*_some_pixels(size, f"{layer.size}x{layer.size} max-pool", shape), shape[2])
    if isinstance(layer, GlobalAvgPool):
        return (1, 1, shape[-1]) if layer.keepdims else (shape[-1],)
    if isinstance(layer, AdaptiveAvgPool):
        if any(layer.size % n and n % layer.size for n in shape[:2]):
            raise ValueError(
                f"adaptive average pool to {layer.size}x{layer.size} from {shape[0]}x{shape[1]}: one "
                f"side must be a whole multiple of the other (resize the input, e.g. to 32 or 224)"
            )
        return (layer.size, layer.size, shape[-1])
    if isinstance(layer, Resize):
        return (layer.size, layer.size, shape[-1])
    if isinstance(layer, Flatten):
        size = 1
        for n in shape:
            size *= n
        return (size,)
    if isinstance(layer, Dense):
        return (layer.units,)
    return shape  # BatchNorm, Activation, Dropout, Scale


def _some_pixels(size: list[int], what: str, shape: Shape) -> list[int]:
    """`size`, the output's height and width, where it has some; ValueError where the input was too small."""
    if min(size) < 1:
        raise ValueError(f"its {what} gets {shape[0]}x{shape[1]} pixels and leaves none")
    return size


def walk(layers: list, shape: Shape) -> Iterator[tuple[object, Shape, Shape]]:
    """Yield (leaf layer, input shape, output shape) for every leaf, composites flattened in order."""
    for layer in layers:
        if isinstance(layer, Residual):
            yield from walk(layer.body, shape)
            yield from walk(layer.shortcut, shape)
            shape = network_shape(layer.body, shape)
        elif isinstance(layer, Concat):
            outputs = []
            for branch in layer.branches:
                yield from walk(branch, shape)
                outputs.append(network_shape(branch, shape))
            shape = (*outputs[0][:-1], sum(out[-1] for out in outputs))
        elif isinstance(layer, Gate):
            yield from walk(layer.body, shape)
        else:
            out = output_shape(layer, shape)
            yield layer, shape, out
            shape = out


def network_shape(layers: list, shape: Shape) -> Shape:
    """The output shape of a layer list (composites included)."""
    for layer in layers:
        if isinstance(layer, Residual):
            body = network_shape(layer.body, shape)
            shortcut = network_shape(layer.shortcut, shape)
            if body != shortcut:
                raise ValueError(f"residual {layer.name}: body {body} != shortcut {shortcut}")
            shape = body
        elif isinstance(layer, Concat):
            outputs = [network_shape(branch, shape) for branch in layer.branches]
            shape = (*outputs[0][:-1], sum(out[-1] for out in outputs))
        elif not isinstance(layer, Gate):
            shape = output_shape(layer, shape)
    return shape


INPUT_SHAPE = (32, 32, 3)


def count_params(layers: list, input_shape: Shape = INPUT_SHAPE) -> tuple[int, int]:
    """(trainable, non-trainable) parameters; BatchNorm's running mean and variance are non-trainable."""
    trainable = frozen = 0
    for layer, shape_in, _ in walk(layers, input_shape):
        if isinstance(layer, Conv):
            per_filter = layer.kernel**2 * (1 if layer.depthwise else shape_in[-1])
            trainable += per_filter * layer.filters + (layer.filters if layer.bias else 0)
        elif isinstance(layer, Dense):
            trainable += shape_in[-1] * layer.units + (layer.units if layer.bias else 0)
        elif isinstance(layer, BatchNorm):
            trainable += 2 * shape_in[-1]
            frozen += 2 * shape_in[-1]
    return trainable, frozen


def forward_flops(layers: list, input_shape: Shape = INPUT_SHAPE) -> int:
    """Forward FLOPs per image, counted as torch.utils.flop_counter does: 2 per multiply-add of
    convolutions and matrix products, biases and element-wise work not counted."""
    flops = 0
    for layer, shape_in, shape_out in walk(layers, input_shape):
        if isinstance(layer, Conv):
            per_output = layer.kernel**2 * (1 if layer.depthwise else shape_in[-1])
            flops += 2 * shape_out[0] * shape_out[1] * layer.filters * per_output
        elif isinstance(layer, Dense):
            flops += 2 * shape_in[-1] * layer.units
    return flops


def weighted_leaves(layers: list, input_shape: Shape = INPUT_SHAPE) -> list[tuple[object, Shape]]:
    """(layer, input shape) of every layer holding weights, in order; names must be unique."""
    leaves = [
        (leaf, shape_in)
        for leaf, shape_in, _ in walk(layers, input_shape)
        if isinstance(leaf, (Conv, Dense, BatchNorm))
    ]
    names = [leaf.name for leaf, _ in leaves]
    if len(names) != len(set(names)):
        raise ValueError("layer names repeat within the model")
    return leaves


def torch_tensor_shapes(layers: list, input_shape: Shape = INPUT_SHAPE) -> dict[str, dict[str, tuple]]:
    """The tensors torch keeps for each weighted layer, with their shapes (for checking weight files)."""
    shapes = {}
    for layer, shape_in in weighted_leaves(layers, input_shape):
        channels = shape_in[-1]
        if isinstance(layer, Conv):
            per_filter = 1 if layer.depthwise else channels
            tensors = {"weight": (layer.filters, per_filter, layer.kernel, layer.kernel)}
            out = layer.filters
        elif isinstance(layer, Dense):
            tensors, out = {"weight": (layer.units, channels)}, layer.units
        else:
            tensors = {k: (channels,) for k in ("weight", "bias", "running_mean", "running_var")}
            out = None
        if out is not None and layer.bias:
            tensors["bias"] = (out,)
        shapes[layer.name] = tensors
    return shapes


def flattened_from(layers: list, input_shape: Shape = INPUT_SHAPE) -> dict[str, Shape]:
    """For each Dense layer fed by a Flatten, the (height, width, channels) that was flattened."""
    found, pending = {}, None
    for leaf, shape_in, _ in walk(layers, input_shape):
        if isinstance(leaf, Flatten) and len(shape_in) == 3:
            pending = shape_in
        elif isinstance(leaf, Dense) and pending is not None:
            found[leaf.name], pending = pending, None
    return found

"""The spec's neutral layer list as a torch nn.Sequential whose module paths follow torchvision's, and its
weights in and out as numpy arrays by layer name."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn

from bench.spec import layers as L

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class Residual(nn.Module):
    def __init__(self, body: nn.Module, shortcut: nn.Module, activation: str | None):
        super().__init__()
        self.body, self.shortcut = body, shortcut
        self.activation = ACTIVATIONS[activation]() if activation else nn.Identity()

    def forward(self, x):
        return self.activation(self.body(x) + self.shortcut(x))


class Concat(nn.Module):
    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class Gate(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x * self.body(x)


class GlobalAvgPool(nn.Module):
    def __init__(self, keepdims: bool):
        super().__init__()
        self.keepdims = keepdims

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=self.keepdims)


def _leaf(layer, shape: L.Shape) -> nn.Module:
    channels = shape[-1]
    if isinstance(layer, L.Conv):
        return nn.Conv2d(
            channels,
            layer.filters,
            layer.kernel,
            layer.stride,
            layer.pad,
            bias=layer.bias,
            groups=channels if layer.depthwise else 1,
        )
    if isinstance(layer, L.BatchNorm):
        norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return norm(channels, eps=L.BN_EPSILON, momentum=L.BN_MOMENTUM_TORCH)
    if isinstance(layer, L.Dense):
        return nn.Linear(channels, layer.units, bias=layer.bias)
    if isinstance(layer, L.Activation):
        return ACTIVATIONS[layer.kind]()
    if isinstance(layer, L.MaxPool):
        return nn.MaxPool2d(layer.size, layer.stride or layer.size, layer.padding, ceil_mode=layer.ceil)
    if isinstance(layer, L.GlobalAvgPool):
        return GlobalAvgPool(layer.keepdims)
    if isinstance(layer, L.AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(layer.size)
    if isinstance(layer, L.Resize):
        return nn.Upsample(size=(layer.size, layer.size), mode="bilinear", align_corners=False)
    if isinstance(layer, L.Dropout):
        return nn.Dropout(layer.rate)
    if isinstance(layer, L.Scale):
        return Scale(layer.factor)
    if isinstance(layer, L.Flatten):
        return nn.Flatten()
    raise TypeError(f"no torch layer for {layer!r}")


def network(layer_list: list, shape: L.Shape = L.INPUT_SHAPE) -> nn.Sequential:
    """Build a torch model from a framework-neutral layer list; weighted modules carry `ir_name`."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for index, layer in enumerate(layer_list):
        if isinstance(layer, L.Residual):
            module = Residual(network(layer.body, shape), network(layer.shortcut, shape), layer.activation)
        elif isinstance(layer, L.Concat):
            module = Concat([network(branch, shape) for branch in layer.branches])
        elif isinstance(layer, L.Gate):
            module = Gate(network(layer.body, shape))
        else:
            module = _leaf(layer, shape)
        name = getattr(layer, "name", None)
        if isinstance(layer, (L.Conv, L.Dense, L.BatchNorm)):
            module.ir_name = name
            module.ir_l2 = getattr(layer, "l2", 0.0)
        modules[name or f"{type(layer).__name__.lower()}{index}"] = module
        shape = L.network_shape([layer], shape)
    return nn.Sequential(modules)


def kernel_penalties(model: nn.Module) -> list[tuple[torch.Tensor, float]]:
    """The (kernel, l2) pairs of layers whose spec asks for an L2 penalty, as keras's L2 regulariser."""
    return [(m.weight, m.ir_l2) for m in model.modules() if getattr(m, "ir_l2", 0.0) > 0]


def import_weights(model: nn.Module, weights: dict[str, dict[str, np.ndarray]]) -> None:
    """Load tensors by spec name (the format export_weights writes); layers not named are left alone."""
    with torch.no_grad():
        for module in model.modules():
            for tensor_name, value in weights.get(getattr(module, "ir_name", None), {}).items():
                getattr(module, tensor_name).copy_(torch.from_numpy(value))


def export_weights(model: nn.Module) -> dict[str, dict[str, np.ndarray]]:
    """Every weighted layer's tensors by spec name: weight, bias, running_mean, running_var."""
    exported = {}
    for module in model.modules():
        if hasattr(module, "ir_name"):
            tensors = {**dict(module.named_parameters(recurse=False)), **dict(module.named_buffers(recurse=False))}
            exported[module.ir_name] = {
                k: v.detach().cpu().numpy().copy() for k, v in tensors.items() if k != "num_batches_tracked"
            }
    return exported


def output_classes(model: nn.Module) -> int:
    """The width of the model's last weighted layer: its number of classes."""
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    return last.out_features if isinstance(last, nn.Linear) else last.out_channels

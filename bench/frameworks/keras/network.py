"""The spec's neutral layer list as a keras functional model with the same layer names as torch's modules,
weights copied in and out in torch's layout, and the input normalisation as the model's first layer."""

from __future__ import annotations

import keras
import numpy as np

from bench.spec import layers as L


def _l2(layer):
    return keras.regularizers.L2(layer.l2) if layer.l2 else None


def _leaf(layer, shape: L.Shape) -> list:
    """The keras layers that compute one spec layer (padding made explicit where keras differs)."""
    if isinstance(layer, L.Conv):
        same = layer.stride == 1 and layer.pad == layer.kernel // 2 and layer.kernel % 2 == 1
        padding = [] if same or not layer.pad else [keras.layers.ZeroPadding2D(layer.pad)]
        kwargs = dict(strides=layer.stride, padding="same" if same else "valid", use_bias=layer.bias, name=layer.name)
        if layer.depthwise:
            return padding + [keras.layers.DepthwiseConv2D(layer.kernel, depthwise_regularizer=_l2(layer), **kwargs)]
        return padding + [keras.layers.Conv2D(layer.filters, layer.kernel, kernel_regularizer=_l2(layer), **kwargs)]
    if isinstance(layer, L.BatchNorm):
        return [
            keras.layers.BatchNormalization(epsilon=L.BN_EPSILON, momentum=1.0 - L.BN_MOMENTUM_TORCH, name=layer.name)
        ]
    if isinstance(layer, L.Dense):
        return [keras.layers.Dense(layer.units, use_bias=layer.bias, kernel_regularizer=_l2(layer), name=layer.name)]
    if isinstance(layer, L.Activation):
        return [keras.layers.Activation(layer.kind)]
    if isinstance(layer, L.MaxPool):
        stride = layer.stride or layer.size
        # Extra bottom/right padding reproduces torch's ceil_mode; zeros equal -inf after a ReLU.
        extra = [
            (out - 1) * stride + layer.size - (n + 2 * layer.padding)
            for out, n in zip(L.output_shape(layer, shape)[:2], shape[:2])
        ]
        pads = ((layer.padding, layer.padding + max(extra[0], 0)), (layer.padding, layer.padding + max(extra[1], 0)))
        padding = [keras.layers.ZeroPadding2D(pads)] if any(map(any, pads)) else []
        return padding + [keras.layers.MaxPooling2D(layer.size, stride, padding="valid")]
    if isinstance(layer, L.GlobalAvgPool):
        return [keras.layers.GlobalAveragePooling2D(keepdims=layer.keepdims)]
    if isinstance(layer, L.AdaptiveAvgPool):
        height = shape[0]
        if height == layer.size:
            return []
        if height < layer.size:  # every output cell averages exactly one input cell
            return [keras.layers.UpSampling2D(layer.size // height, interpolation="nearest")]
        return [keras.layers.AveragePooling2D(height // layer.size)]
    if isinstance(layer, L.Resize):
        return [keras.layers.Resizing(layer.size, layer.size, interpolation="bilinear")]
    if isinstance(layer, L.Dropout):
        return [keras.layers.Dropout(layer.rate)]
    if isinstance(layer, L.Scale):
        return [keras.layers.Rescaling(layer.factor)]
    if isinstance(layer, L.Flatten):
        return [keras.layers.Flatten()]
    raise TypeError(f"no keras layer for {layer!r}")


def _apply(layer_list: list, x, shape: L.Shape):
    for layer in layer_list:
        if isinstance(layer, L.Residual):
            total = keras.layers.Add(name=f"{layer.name}_add")(
                [_apply(layer.body, x, shape), _apply(layer.shortcut, x, shape)]
            )
            x = keras.layers.Activation(layer.activation)(total) if layer.activation else total
        elif isinstance(layer, L.Concat):
            x = keras.layers.Concatenate(name=f"{layer.name}_concat")(
                [_apply(branch, x, shape) for branch in layer.branches]
            )
        elif isinstance(layer, L.Gate):
            x = keras.layers.Multiply(name=f"{layer.name}_gate")([x, _apply(layer.body, x, shape)])
        else:
            for keras_layer in _leaf(layer, shape):
                x = keras_layer(x)
        shape = L.network_shape([layer], shape)
    return x


def network(layer_list: list, name: str, shape: L.Shape = L.INPUT_SHAPE) -> keras.Model:
    """Build a keras functional model for (height, width, channels) inputs from a framework-neutral layer
    list; layer names follow the spec."""
    inputs = keras.Input(shape)
    return keras.Model(inputs, _apply(layer_list, inputs, shape), name=name)


def input_shape(model: keras.Model) -> L.Shape:
    """The (height, width, channels) a model was built for."""
    return tuple(int(n) for n in model.inputs[0].shape[1:])


def load_torch_weights(model: keras.Model, layer_list: list, weights: dict[str, dict[str, np.ndarray]]) -> None:
    """Copy weights exported by the torch side (bench.frameworks.torch.network.export_weights) by name;
    layers absent from `weights` keep their initialisation.

    Conv kernels go from OIHW to HWIO (depthwise: C1HW to HWC1), dense matrices are transposed,
    and a dense layer fed by a Flatten has its input rows reordered from torch's CHW to keras's HWC.
    """
    flattened = L.flattened_from(layer_list, input_shape(model))
    for layer, _ in L.weighted_leaves(layer_list, input_shape(model)):
        if layer.name not in weights:
            continue  # left as initialised (e.g. a new classification head)
        tensors = weights[layer.name]
        target = model.get_layer(layer.name)
        if isinstance(layer, L.Conv):
            kernel = (
                tensors["weight"].transpose(2, 3, 0, 1) if layer.depthwise else tensors["weight"].transpose(2, 3, 1, 0)
            )
            values = [kernel] + ([tensors["bias"]] if layer.bias else [])
        elif isinstance(layer, L.Dense):
            matrix = tensors["weight"]
            if layer.name in flattened:
                height, width, channels = flattened[layer.name]
                matrix = matrix.reshape(-1, channels, height, width).transpose(0, 2, 3, 1).reshape(len(matrix), -1)
            values = [matrix.T] + ([tensors["bias"]] if layer.bias else [])
        else:
            values = [tensors["weight"], tensors["bias"], tensors["running_mean"], tensors["running_var"]]
        target.set_weights(values)


def export_torch_weights(model: keras.Model, layer_list: list) -> dict[str, dict[str, np.ndarray]]:
    """The inverse of load_torch_weights: every weighted layer's tensors in torch's layout, by name."""
    flattened = L.flattened_from(layer_list, input_shape(model))
    exported = {}
    for layer, _ in L.weighted_leaves(layer_list, input_shape(model)):
        values = [np.array(w) for w in model.get_layer(layer.name).get_weights()]
        if isinstance(layer, L.Conv):
            tensors = {
                "weight": values[0].transpose(2, 3, 0, 1) if layer.depthwise else values[0].transpose(3, 2, 0, 1)
            }
        elif isinstance(layer, L.Dense):
            matrix = values[0].T
            if layer.name in flattened:
                height, width, channels = flattened[layer.name]
                matrix = matrix.reshape(-1, height, width, channels).transpose(0, 3, 1, 2).reshape(len(matrix), -1)
            tensors = {"weight": matrix}
        else:
            tensors = dict(zip(("weight", "bias", "running_mean", "running_var"), values))
        if isinstance(layer, (L.Conv, L.Dense)) and layer.bias:
            tensors["bias"] = values[1]
        exported[layer.name] = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    return exported


def with_input_normalisation(model: keras.Model, mean, std) -> keras.Model:
    """`model` behind the input normalisation, (pixel / 255 - mean) / std as one multiply-add in float32: pixel
    values (0-255) in, logits out. It runs inside the compiled step, a batch at a time, rather than as passes
    over the epoch's float images before `fit`. The weights are `model`'s own."""
    mean, std = np.array(mean, "float32"), np.array(std, "float32")
    inputs = keras.Input(input_shape(model))
    normalised = keras.layers.Rescaling(1 / (255 * std), -mean / std, dtype="float32", name="normalise")(inputs)
    return keras.Model(inputs, model(normalised), name=f"{model.name}_normalised")

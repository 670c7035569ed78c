"""Keras 3 builder of r2_vanilla_cnn, from the layer list in its spec."""

from bench.frameworks.keras_backend import sequential
from impls.r2_vanilla_cnn import spec


def build(num_classes: int):
    return sequential(spec.layers(num_classes), name="r2_vanilla_cnn")

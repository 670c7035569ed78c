"""PyTorch builder of r3_deep_cnn, from the layer list in its spec."""

from bench.frameworks.torch_backend import sequential
from impls.r3_deep_cnn import spec


def build(num_classes: int):
    return sequential(spec.layers(num_classes))

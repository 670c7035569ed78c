"""r4 SimpleCNN (CIFAR-100 paper): three blocks of two 3x3 convs with BN + ReLU, FC 512 (paper r4).

Widths 64 -> 128 -> 256, 2x2 max-pool per block (32 -> 16 -> 8 -> 4), Flatten 256*4*4 ->
FC 512 -> ReLU -> dropout 0.5 -> FC classes.
"""

from bench.spec.layers import Dense, Dropout, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec
from models.blocks import conv_bn_relu_pair

SPEC = Spec(
    paper="r4",
    description="SimpleCNN 64-128-256, BN, FC 512",
    interpretation="as reported",
    published={"val_accuracy": 0.60, "dataset": "cifar100", "framework": "PyTorch", "epochs": 50},
    parts=(Part("r4_simple", "cifar100"),),
)


def layers(num_classes: int):
    return [
        *conv_bn_relu_pair("block1", 64),
        MaxPool(2),
        *conv_bn_relu_pair("block2", 128),
        MaxPool(2),
        *conv_bn_relu_pair("block3", 256),
        MaxPool(2),
        Flatten(),
        Dense("fc1", 512),
        ReLU(),
        Dropout(0.5),
        Dense("fc2", num_classes),
    ]

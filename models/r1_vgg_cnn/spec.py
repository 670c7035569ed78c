"""r1 VGG-style Keras CNN trained with focal loss (paper r1).

Three blocks of two 3x3 convs (64, 128, 256), each conv followed by BatchNorm and ReLU, 2x2
max-pool per block, dropout 0.1 / 0.2 / 0.5; Flatten -> Dense 128 (L2 0.005) -> BatchNorm ->
ReLU -> dropout 0.4 -> Dense classes.
"""

from bench.spec.layers import BatchNorm, Dense, Dropout, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec
from models.blocks import conv_bn_relu_pair

SPEC = Spec(
    paper="r1",
    description="VGG-style 64-128-256, BN, dropout, Dense 128",
    interpretation="the report's augmentation layers (RandomTranslation 0.05, RandomFlip) belong to the "
    "recipe, not the model, so both frameworks augment in their data pipeline",
    published={"test_accuracy": 0.8963, "framework": "Keras"},
    parts=(Part("r1"),),
)


def layers(num_classes: int):
    return [
        *conv_bn_relu_pair("block1", 64),
        MaxPool(2),
        Dropout(0.1),
        *conv_bn_relu_pair("block2", 128),
        MaxPool(2),
        Dropout(0.2),
        *conv_bn_relu_pair("block3", 256),
        MaxPool(2),
        Dropout(0.5),
        Flatten(),
        Dense("fc1", 128, l2=0.005),
        BatchNorm("fc1_bn"),
        ReLU(),
        Dropout(0.4),
        Dense("fc2", num_classes),
    ]

"""VGG-16 in torchvision's layout (no BatchNorm), for transfer learning from its ImageNet weights (paper r1).

Thirteen 3x3 convs (64, 64 | 128, 128 | 256 x3 | 512 x3 | 512 x3) with ReLU and a 2x2 max-pool after
each group, an adaptive average pool to 7x7, then dense 4096 -> 4096 -> classes with ReLU and dropout
0.5. Layer names are torchvision's module indices (features.28 -> features_28).
"""

from bench.spec.layers import AdaptiveAvgPool, Conv, Dense, Dropout, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Spec

SPEC = Spec(
    paper="r1",
    description="VGG-16 (torchvision layout, no BN, for ImageNet weights)",
    interpretation="torchvision's vgg16 unchanged but for the classification head; on 32x32 inputs the "
    "features end at 1x1 and the 7x7 pool repeats that cell, as in torchvision",
    published={"test_accuracy": 0.7, "framework": "Keras", "pretrained": "ImageNet"},
    role="pretrained",  # a layout for torchvision's ImageNet weights
)
GROUPS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def layers(num_classes: int):
    network, index = [], 0
    for group in GROUPS:
        for filters in group:
            network += [Conv(f"features_{index}", filters, 3, 1, 1), ReLU()]
            index += 2
        network.append(MaxPool(2))
        index += 1
    return network + [
        AdaptiveAvgPool(7),
        Flatten(),
        Dense("classifier_0", 4096),
        ReLU(),
        Dropout(0.5),
        Dense("classifier_3", 4096),
        ReLU(),
        Dropout(0.5),
        Dense("classifier_6", num_classes),
    ]

"""ResNet-18 with the CIFAR stem: the field's reference point (~93-95 % on CIFAR-10 in 200 epochs).

Basic blocks (2, 2, 2, 2), 3x3 stride-1 stem without max-pool, torchvision's layer names.
"""

from impls.blocks import resnet

REPORT = "reference"
DESCRIPTION = "ResNet-18, CIFAR stem (reference point)"
INTERPRETATION = "torchvision layer layout with the CIFAR stem (3x3 stride 1, no max-pool)"
REPORTED = {"test_accuracy": 0.93, "epochs": 200, "source": "literature, outside the five reports"}


def layers(num_classes: int):
    return resnet((2, 2, 2, 2), num_classes, "cifar")

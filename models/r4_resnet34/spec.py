"""r4 ResNet-34 trained from scratch on CIFAR-100, with either stem (paper r4).

Standard basic-block ResNet-34 (3, 4, 6, 3) with a `num_classes`-way head and torchvision's
layer names. `stem=imagenet` (the default) is how the report trained it: 7x7 stride-2 conv and
3x3 stride-2 max-pool, which leave 32x32 inputs at 8x8; `stem=cifar` is a 3x3 stride-1 conv
and no max-pool.
"""

from models.blocks import resnet

PAPER = "r4"
DESCRIPTION = "ResNet-34 (basic blocks 3-4-6-3)"
INTERPRETATION = "torchvision's ResNet-34 layout; no zero-init of the last BatchNorm in each block"
PUBLISHED = {"val_accuracy": 0.49, "dataset": "cifar100", "framework": "PyTorch", "epochs": 100, "stem": "imagenet"}
OPTIONS = {"stem": ("imagenet", "cifar")}


def layers(num_classes: int, stem: str = "imagenet"):
    return resnet((3, 4, 6, 3), num_classes, stem)

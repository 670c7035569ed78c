"""r4 ResNet-34 trained from scratch on CIFAR-100, with either stem (paper r4).

Standard basic-block ResNet-34 (3, 4, 6, 3) with a `num_classes`-way head and torchvision's
layer names. `stem=imagenet` (the default) is how the report trained it: 7x7 stride-2 conv and
3x3 stride-2 max-pool, which leave 32x32 inputs at 8x8; `stem=cifar` is a 3x3 stride-1 conv
and no max-pool.
"""

from bench.spec.model_spec import Part, Spec
from models.blocks import resnet

SPEC = Spec(
    paper="r4",
    description="ResNet-34 (basic blocks 3-4-6-3)",
    interpretation="torchvision's ResNet-34 layout; no zero-init of the last BatchNorm in each block",
    published={"val_accuracy": 0.49, "dataset": "cifar100", "framework": "PyTorch", "epochs": 100, "stem": "imagenet"},
    parts=(Part("r4_resnet", "cifar100"), Part("r4_resnet", "cifar100", variant="stem=cifar")),
    options={"stem": ("imagenet", "cifar")},
)


def layers(num_classes: int, stem: str = "imagenet"):
    return resnet((3, 4, 6, 3), num_classes, stem)

"""ResNet-18: the field's reference point (~93-95 % on CIFAR-10 in 200 epochs with the CIFAR stem).

Basic blocks (2, 2, 2, 2), torchvision's layer names. `stem=cifar` (the default): 3x3 stride-1 conv
without max-pool; `stem=imagenet`: torchvision's own resnet18 (7x7 stride-2 conv and max-pool), whose
ImageNet weights file loads as it is.
"""

from bench.spec.model_spec import Spec
from models.blocks import resnet

SPEC = Spec(
    paper="reference",
    description="ResNet-18 (reference point)",
    interpretation="torchvision layer layout; the CIFAR stem (3x3 stride 1, no max-pool) by default",
    published={"test_accuracy": 0.93, "epochs": 200, "source": "literature, outside the five reports"},
    options={"stem": ("cifar", "imagenet")},
    pretrained_option={"stem": "imagenet"},  # torchvision's own layout, for its ImageNet weights
)


def layers(num_classes: int, stem: str = "cifar"):
    return resnet((2, 2, 2, 2), num_classes, stem)

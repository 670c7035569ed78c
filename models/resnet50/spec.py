"""ResNet-50 in torchvision's layout, for transfer learning from its ImageNet weights (paper r1).

Bottleneck blocks (3, 4, 6, 3) with 4x expansion, the stride on the 3x3 conv (torchvision's v1.5),
the ImageNet stem (7x7 stride-2 conv and max-pool; 32x32 inputs end at 1x1), torchvision's layer
names so that its weights file loads as it is.
"""

from bench.spec.model_spec import Spec
from models.blocks import resnet

SPEC = Spec(
    paper="r1",
    description="ResNet-50 (torchvision layout, for ImageNet weights)",
    interpretation="torchvision's resnet50 unchanged but for the classification head; r1 fine-tuned ImageNet "
    "weights on 32x32 inputs and reports about 0.6",
    published={"test_accuracy": 0.6, "framework": "Keras", "pretrained": "ImageNet"},
    role="pretrained",  # a layout for torchvision's ImageNet weights
)


def layers(num_classes: int):
    return resnet((3, 4, 6, 3), num_classes, "imagenet", bottleneck=True)

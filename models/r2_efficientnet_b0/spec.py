"""r2 EfficientNet-B0 from scratch, adapted to 32x32 inputs (paper r2), in torchvision's layout.

B0's MBConv stages (expansion, width, repeats, stride, kernel) with squeeze-and-excitation
(ratio 0.25 of the block's input width) and SiLU; head conv 1x1 to 1280, global pool,
dropout 0.2, dense. `stem=cifar` (the default) is the adaptation for 32x32 the report suggests: the
stem conv has stride 1 instead of 2, so the five stride-2 stages take 32x32 down to 2x2 (ImageNet B0:
224 -> 7). `stem=imagenet` is torchvision's efficientnet_b0 itself. Layer names are torchvision's
module paths (features.2.0.block.1.0 -> features_2_0_block_1_0), so its weights file loads as it is.
"""

from bench.spec.layers import Activation, BatchNorm, Conv, Dense, Dropout, Gate, GlobalAvgPool, Residual
from bench.spec.model_spec import Part, Spec

SPEC = Spec(
    paper="r2",
    description="EfficientNet-B0 (torchvision layout)",
    interpretation="stem stride 1 (not 2) unless stem=imagenet; no stochastic depth (drop-connect); "
    "BatchNorm epsilon 1e-5 and momentum 0.1, as torchvision's B0",
    published={"test_accuracy": 0.338, "framework": "PyTorch Lightning"},
    parts=(Part("r2"),),
    options={"stem": ("cifar", "imagenet")},
    pretrained_option={"stem": "imagenet"},  # torchvision's own layout, for its ImageNet weights
)

# (expansion, output width, repeats, first stride, kernel) of B0's seven stages
STAGES = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


def conv_bn(name: str, filters: int, kernel: int = 1, stride: int = 1, depthwise: bool = False) -> list:
    """torchvision's Conv2dNormActivation: conv `name_0`, BatchNorm `name_1`."""
    return [Conv(f"{name}_0", filters, kernel, stride, depthwise=depthwise, bias=False), BatchNorm(f"{name}_1")]


def mbconv(name: str, width_in: int, width: int, expansion: int, stride: int, kernel: int) -> list:
    mid = width_in * expansion
    parts = []
    if expansion != 1:
        parts.append(conv_bn(f"{name}_block_{len(parts)}", mid) + [Activation("silu")])
    parts.append(conv_bn(f"{name}_block_{len(parts)}", mid, kernel, stride, depthwise=True) + [Activation("silu")])
    se = f"{name}_block_{len(parts)}"
    parts.append(
        [
            Gate(
                se,
                [
                    GlobalAvgPool(keepdims=True),
                    Conv(f"{se}_fc1", max(1, width_in // 4), 1),
                    Activation("silu"),
                    Conv(f"{se}_fc2", mid, 1),
                    Activation("sigmoid"),
                ],
            )
        ]
    )
    parts.append(conv_bn(f"{name}_block_{len(parts)}", width))
    body = [layer for part in parts for layer in part]
    if stride == 1 and width_in == width:
        return [Residual(name, body)]
    return body


def layers(num_classes: int, stem: str = "cifar"):
    network = conv_bn("features_0", 32, 3, 1 if stem == "cifar" else 2) + [Activation("silu")]
    width_in = 32
    for stage, (expansion, width, repeats, stride, kernel) in enumerate(STAGES, 1):
        for index in range(repeats):
            network += mbconv(
                f"features_{stage}_{index}", width_in, width, expansion, stride if index == 0 else 1, kernel
            )
            width_in = width
    return (
        network
        + conv_bn("features_8", 1280)
        + [Activation("silu"), GlobalAvgPool(), Dropout(0.2), Dense("classifier_1", num_classes)]
    )

"""Building blocks shared by several model specs (plain data: lists of bench.spec.layers)."""

from __future__ import annotations

from bench.spec.layers import BatchNorm, Conv, Dense, GlobalAvgPool, MaxPool, ReLU, Residual


def conv_bn_relu_pair(prefix: str, filters: int) -> list:
    """Two 3x3 'same' convolutions, each followed by BatchNorm and ReLU."""
    return [
        Conv(f"{prefix}_conv1", filters),
        BatchNorm(f"{prefix}_bn1"),
        ReLU(),
        Conv(f"{prefix}_conv2", filters),
        BatchNorm(f"{prefix}_bn2"),
        ReLU(),
    ]


def basic_block(name: str, channels_in: int, channels: int, stride: int) -> Residual:
    """ResNet's basic block; names follow torchvision's (layer1.0.conv1 -> layer1_0_conv1)."""
    body = [
        Conv(f"{name}_conv1", channels, 3, stride, 1, bias=False),
        BatchNorm(f"{name}_bn1"),
        ReLU(),
        Conv(f"{name}_conv2", channels, 3, 1, 1, bias=False),
        BatchNorm(f"{name}_bn2"),
    ]
    return Residual(name, body, _shortcut(name, channels_in, channels, stride), activation="relu")


def _shortcut(name: str, channels_in: int, channels: int, stride: int) -> list:
    """The identity, or torchvision's `downsample`: a strided 1x1 conv and BatchNorm where the shape changes."""
    if stride == 1 and channels_in == channels:
        return []
    return [Conv(f"{name}_downsample_0", channels, 1, stride, 0, bias=False), BatchNorm(f"{name}_downsample_1")]


STEMS = {
    # torchvision's ImageNet stem: 32x32 inputs leave it at 8x8.
    "imagenet": [Conv("conv1", 64, 7, 2, 3, bias=False), BatchNorm("bn1"), ReLU(), MaxPool(3, 2, 1)],
    # The usual CIFAR stem: 3x3 stride 1, no max-pool.
    "cifar": [Conv("conv1", 64, 3, 1, 1, bias=False), BatchNorm("bn1"), ReLU()],
}


def bottleneck_block(name: str, channels_in: int, channels: int, stride: int) -> Residual:
    """ResNet's bottleneck block as torchvision builds it (v1.5: the stride on the 3x3 conv), 4x expansion."""
    width = channels // 4
    body = [
        Conv(f"{name}_conv1", width, 1, 1, 0, bias=False),
        BatchNorm(f"{name}_bn1"),
        ReLU(),
        Conv(f"{name}_conv2", width, 3, stride, 1, bias=False),
        BatchNorm(f"{name}_bn2"),
        ReLU(),
        Conv(f"{name}_conv3", channels, 1, 1, 0, bias=False),
        BatchNorm(f"{name}_bn3"),
    ]
    return Residual(name, body, _shortcut(name, channels_in, channels, stride), activation="relu")


def resnet(blocks_per_stage: tuple[int, ...], num_classes: int, stem: str, bottleneck: bool = False) -> list:
    """A ResNet with torchvision's layer names: basic blocks (18: 2,2,2,2; 34: 3,4,6,3) or bottlenecks
    (50: 3,4,6,3)."""
    layers = list(STEMS[stem])
    channels_in, expansion = 64, 4 if bottleneck else 1
    block = bottleneck_block if bottleneck else basic_block
    for stage, blocks in enumerate(blocks_per_stage, 1):
        channels = 64 * 2 ** (stage - 1) * expansion
        for index in range(blocks):
            stride = 2 if stage > 1 and index == 0 else 1
            layers.append(block(f"layer{stage}_{index}", channels_in, channels, stride))
            channels_in = channels
    return layers + [GlobalAvgPool(), Dense("fc", num_classes)]

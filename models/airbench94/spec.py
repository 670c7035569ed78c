"""airbench94's network, the speed yardstick: the fastest known CIFAR-10 trainer (94 % test accuracy in
2.59 s on an A100, Keller Jordan's airbench), written here from its published source (lib_airbench94.py).

whiten conv 2x2 (24 filters, no padding, bias) -> GELU -> three groups of [conv 3x3 (no bias) -> max-pool 2
-> BatchNorm -> GELU -> conv 3x3 (no bias) -> BatchNorm -> GELU] with 64, 256 and 256 filters -> max-pool 3
-> Flatten -> FC num_classes (no bias) -> x 1/9. Outputs logits.
"""

from bench.spec.layers import GELU, BatchNorm, Conv, Dense, Flatten, MaxPool, Scale
from bench.spec.model_spec import Spec

SPEC = Spec(
    paper="reference",
    description="airbench94 network (speed yardstick)",
    interpretation="airbench94's layers; its training tricks are the recipe's business "
    "(see recipe airbench94's deviations)",
    published={
        "test_accuracy": 0.94,
        "epochs": 10,
        "source": "airbench94 (Jordan 2024), outside the five reports: 94.01 % mean of 1,000 runs, with "
        "whitening initialisation, lookahead and flip-and-translate test-time augmentation",
    },
    role="yardstick",  # the reference every GPU row is read against, not a paper's model
)
WIDTHS = (64, 256, 256)
WHITEN_FILTERS = 2 * 3 * 2**2  # two signs of every eigenvector of the 2x2x3 patch covariance
OUTPUT_SCALE = 1 / 9


def layers(num_classes: int):
    spec = [Conv("whiten", WHITEN_FILTERS, kernel=2, padding=0), GELU()]
    for index, width in enumerate(WIDTHS, start=1):
        block = f"block{index}"
        spec += [
            Conv(f"{block}_conv1", width, bias=False),
            MaxPool(2),
            BatchNorm(f"{block}_norm1"),
            GELU(),
            Conv(f"{block}_conv2", width, bias=False),
            BatchNorm(f"{block}_norm2"),
            GELU(),
        ]
    return spec + [MaxPool(3), Flatten(), Dense("head", num_classes, bias=False), Scale(OUTPUT_SCALE)]

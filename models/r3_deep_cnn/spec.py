"""r3 deep CNN with doubling widths: six 3x3 convs, BatchNorm after each max-pool (paper r3, v3).

Interpretation (REPORTS.md): convs 3->16->32 | 64->128 | 256->512, ReLU after each conv,
2x2 max-pool after the 2nd, 4th and 6th conv, BatchNorm after each pool, then
FC 512*4*4 -> 256 -> num_classes. Outputs logits.
"""

from bench.spec.layers import BatchNorm, Conv, Dense, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec

SPEC = Spec(
    paper="r3",
    description="deep CNN, widths 16..512 doubling, BN after pools, FC 256",
    interpretation="convs 16,32 | 64,128 | 256,512 with pools after every other conv; optimizer not stated by the "
    "report: Adam 1e-3",
    published={"test_accuracy": 0.82, "framework": "PyTorch", "epochs": 15},
    parts=(Part("r3"),),
)


def layers(num_classes: int):
    return [
        Conv("conv1", 16),
        ReLU(),
        Conv("conv2", 32),
        ReLU(),
        MaxPool(2),
        BatchNorm("bn1"),
        Conv("conv3", 64),
        ReLU(),
        Conv("conv4", 128),
        ReLU(),
        MaxPool(2),
        BatchNorm("bn2"),
        Conv("conv5", 256),
        ReLU(),
        Conv("conv6", 512),
        ReLU(),
        MaxPool(2),
        BatchNorm("bn3"),
        Flatten(),
        Dense("fc1", 256),
        ReLU(),
        Dense("fc2", num_classes),
    ]

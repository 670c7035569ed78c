"""r0 deep Keras CNN with triple regularisation: BatchNorm, dropout and L2 on every kernel (paper r0).

Three blocks of two 3x3 'same' convs (ReLU, then BatchNorm after each), 2x2 max-pool and
dropout 0.25 per block, widths 32, 64, 256; Flatten -> Dense 512 -> Dense 256 -> classes,
BatchNorm after the hidden dense layers, dropout 0.5. L2 0.001 on every kernel.
"""

from bench.spec.layers import BatchNorm, Conv, Dense, Dropout, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec

SPEC = Spec(
    paper="r0",
    description="deep CNN 32-64-256, BN + dropout + L2 1e-3",
    interpretation="first two blocks 32 and 64 filters; ReLU before BatchNorm as written; ReLU on the "
    "hidden dense layers; L2 penalty 0.001 * sum(w^2) on conv and dense kernels, not biases",
    published={
        "test_accuracy": 0.8705,
        "params": 2_300_000,
        "epochs": 50,
        "framework": "Keras",
        "hardware": "CPU",
        "epoch_minutes": 11.4,
        # the report's batch-size table (CPU): batch -> (minutes per epoch, test accuracy)
        "batch_sizes": {32: (60, 0.84), 64: (30, 0.83), 128: (18, 0.81), 256: (12, 0.78)},
    },
    parts=(Part("r0"),),
)
L2 = 0.001


def block(index: int, filters: int) -> list:
    return [
        Conv(f"block{index}_conv1", filters, l2=L2),
        ReLU(),
        BatchNorm(f"block{index}_bn1"),
        Conv(f"block{index}_conv2", filters, l2=L2),
        ReLU(),
        BatchNorm(f"block{index}_bn2"),
        MaxPool(2),
        Dropout(0.25),
    ]


def layers(num_classes: int):
    return [
        *block(1, 32),
        *block(2, 64),
        *block(3, 256),
        Flatten(),
        Dense("fc1", 512, l2=L2),
        ReLU(),
        BatchNorm("fc1_bn"),
        Dropout(0.5),
        Dense("fc2", 256, l2=L2),
        ReLU(),
        BatchNorm("fc2_bn"),
        Dropout(0.5),
        Dense("fc3", num_classes, l2=L2),
    ]

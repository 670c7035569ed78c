"""r2 tuned CNN: the vanilla CNN with BatchNorm after each conv and dropout around FC 256 (report r2).

conv 32 -> BN -> ReLU -> pool -> conv 64 -> BN -> ReLU -> pool -> Flatten -> dropout 0.5 ->
FC 256 -> ReLU -> dropout 0.5 -> FC classes.
"""

from bench.layers import BatchNorm, Conv, Dense, Dropout, Flatten, MaxPool, ReLU

REPORT = "r2"
DESCRIPTION = "tuned CNN: 2 convs (32, 64) + BN, dropout, FC 256"
INTERPRETATION = ("Optuna's chosen filters and kernel sizes are not published: the vanilla widths and "
                  "3x3 kernels are kept, with the dense width (256) and dropout (0.5) the report states")
REPORTED = {"test_accuracy": 0.747, "framework": "PyTorch Lightning"}


def layers(num_classes: int):
    return [
        Conv("conv1", 32), BatchNorm("bn1"), ReLU(), MaxPool(2),
        Conv("conv2", 64), BatchNorm("bn2"), ReLU(), MaxPool(2),
        Flatten(), Dropout(0.5),
        Dense("fc1", 256), ReLU(), Dropout(0.5),
        Dense("fc2", num_classes),
    ]

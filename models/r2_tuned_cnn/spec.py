"""r2 tuned CNN: the vanilla CNN with BatchNorm after each conv and dropout around FC 256 (paper r2).

conv 32 -> BN -> ReLU -> pool -> conv 64 -> BN -> ReLU -> pool -> Flatten -> dropout 0.5 ->
FC 256 -> ReLU -> dropout 0.5 -> FC classes. The report's Optuna search varied the filters, the
kernel sizes, the dense units and the dropout: they are this model's PARAMETERS (defaults: the
report's values), e.g. `r2_tuned_cnn:filters1=64,kernel=5,dropout=0.3`; bench.spec.searches holds the
ranges the search draws from.
"""

from bench.spec.layers import BatchNorm, Conv, Dense, Dropout, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec

SPEC = Spec(
    paper="r2",
    description="tuned CNN: 2 convs (32, 64) + BN, dropout, FC 256",
    interpretation="Optuna's chosen filters and kernel sizes are not published: the vanilla widths and "
    "3x3 kernels are kept, with the dense width (256) and dropout (0.5) the report states",
    published={"test_accuracy": 0.747, "framework": "PyTorch Lightning"},
    parts=(Part("r2"),),
    parameters={  # name: (default, low, high)
        "filters1": (32, 1, 1024),
        "filters2": (64, 1, 1024),
        "kernel": (3, 1, 7),  # both convs, 'same' padding
        "dense": (256, 1, 8192),
        "dropout": (0.5, 0.0, 0.95),  # before and after the dense layer
    },
)


def layers(
    num_classes: int, filters1: int = 32, filters2: int = 64, kernel: int = 3, dense: int = 256, dropout: float = 0.5
):
    if kernel % 2 == 0:
        raise ValueError(f"kernel must be odd ('same' padding keeps 32x32), not {kernel}")
    return [
        Conv("conv1", filters1, kernel=kernel),
        BatchNorm("bn1"),
        ReLU(),
        MaxPool(2),
        Conv("conv2", filters2, kernel=kernel),
        BatchNorm("bn2"),
        ReLU(),
        MaxPool(2),
        Flatten(),
        Dropout(dropout),
        Dense("fc1", dense),
        ReLU(),
        Dropout(dropout),
        Dense("fc2", num_classes),
    ]

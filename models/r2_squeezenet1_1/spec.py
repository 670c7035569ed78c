"""r2 SqueezeNet 1.1 in torchvision's layout, trained from scratch (paper r2).

Conv 64 (3x3, stride 2) -> ReLU -> max-pool 3/2 (ceil) -> Fire x2 -> pool -> Fire x2 -> pool
-> Fire x4 -> dropout 0.5 -> conv 1x1 to classes -> ReLU -> global average pool.
A Fire module squeezes with a 1x1 conv, then concatenates 1x1 and 3x3 expansions. Layer names are
torchvision's (features.3.squeeze -> features_3_squeeze), so its weights file loads as it is.
"""

from bench.spec.layers import Concat, Conv, Dropout, GlobalAvgPool, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec

SPEC = Spec(
    paper="r2",
    description="SqueezeNet 1.1 (torchvision layout)",
    interpretation="torchvision's layout unchanged for 32x32 inputs (spatial 32 -> 15 -> 7 -> 3 -> 1); "
    "its classifier ends in a ReLU, so the logits are non-negative, as in torchvision",
    published={"test_accuracy": 0.56, "framework": "PyTorch Lightning", "epochs": 50},
    parts=(Part("r2_squeezenet"),),
    # torchvision's SqueezeNet constructor: kaiming_uniform_ convolutions, the classifier normal(0, 0.01), zero
    # biases (bench.spec.initialisation). With the layers' default start instead, the logits do not depend on the
    # image (their spread over a batch is ~1e-8) and training stays at chance (loss ln 10 for 5 epochs of r2's).
    init={"*": ("kaiming_uniform", 0.0), "classifier_1": ("normal", 0.01)},
)


def fire(index: int, squeeze: int, expand: int) -> list:
    name = f"features_{index}"
    return [
        Conv(f"{name}_squeeze", squeeze, 1),
        ReLU(),
        Concat(name, [[Conv(f"{name}_expand1x1", expand, 1), ReLU()], [Conv(f"{name}_expand3x3", expand, 3), ReLU()]]),
    ]


def layers(num_classes: int):
    pool = MaxPool(3, 2, ceil=True)
    return [
        Conv("features_0", 64, 3, 2, 0),
        ReLU(),
        pool,
        *fire(3, 16, 64),
        *fire(4, 16, 64),
        pool,
        *fire(6, 32, 128),
        *fire(7, 32, 128),
        pool,
        *fire(9, 48, 192),
        *fire(10, 48, 192),
        *fire(11, 64, 256),
        *fire(12, 64, 256),
        Dropout(0.5),
        Conv("classifier_1", num_classes, 1),
        ReLU(),
        GlobalAvgPool(),
    ]

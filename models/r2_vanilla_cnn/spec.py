"""r2 vanilla CNN: two 3x3 convs with max-pooling, then two dense layers (paper r2).

conv 32 (3x3, pad 1) -> ReLU -> pool 2 -> conv 64 -> ReLU -> pool 2 -> Flatten (64*8*8)
-> FC 512 -> ReLU -> FC num_classes. Outputs logits; the loss applies the softmax.
"""

from bench.spec.layers import Conv, Dense, Flatten, MaxPool, ReLU
from bench.spec.model_spec import Part, Spec

SPEC = Spec(
    paper="r2",
    description="vanilla CNN: 2 convs (32, 64) + FC 512",
    interpretation="as reported; no BatchNorm or dropout (that is r2's tuned CNN)",
    published={"test_accuracy": 0.71, "framework": "PyTorch Lightning", "epochs": 50},
    parts=(Part("r2"),),
)


def layers(num_classes: int):
    return [
        Conv("conv1", 32),
        ReLU(),
        MaxPool(2),
        Conv("conv2", 64),
        ReLU(),
        MaxPool(2),
        Flatten(),
        Dense("fc1", 512),
        ReLU(),
        Dense("fc2", num_classes),
    ]

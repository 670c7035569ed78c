"""cnnbench: comparable CNN training benchmarks on CIFAR, in PyTorch and Keras 3.

The harness (this package) never imports a deep-learning framework at top level;
framework code lives in `bench.frameworks`, imported on demand; `models/<model>/` holds each
model's framework-neutral spec.
"""

__version__ = "0.1.0"

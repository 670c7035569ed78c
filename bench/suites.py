"""Named sweeps: which models, frameworks, batch sizes, seeds and budget a suite runs.

Command-line flags override a suite's fields, so `--suite default --epochs 1` is a shorter default.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    models: tuple[str, ...]
    frameworks: tuple[str, ...] = ("torch", "keras")
    recipe: str = "baseline"
    batch_sizes: tuple[int, ...] = (128,)
    seeds: tuple[int, ...] = (0,)
    epochs: int = 3
    train_subset: int | None = None  # None: the whole training split


SKELETON_MODELS = ("r2_vanilla_cnn", "r3_deep_cnn")

SUITES = {
    "default": Suite("default", "quick CPU check: both skeleton models, both frameworks, "
                     "2 epochs on a 5,000-image class-balanced subset", SKELETON_MODELS,
                     epochs=2, train_subset=5000),
    "skeleton": Suite("skeleton", "both skeleton models, both frameworks, 3 epochs on the full "
                      "45,000-image training split (the committed CPU results)", SKELETON_MODELS,
                      epochs=3),
}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    return SUITES[name]

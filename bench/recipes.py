"""Training recipes as typed data: optimizer, schedule, loss, augmentation and budget.

A recipe is resolved into every result, so a row always says how it was trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from bench.errors import BenchError

AUGMENTATIONS = ("crop", "flip")
LR_SCALING = ("none", "linear", "sqrt")  # how --lr-scaling adapts the learning rate to the batch size


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    adam_epsilon: float = 1e-8  # set on both sides: keras defaults to 1e-7, torch to 1e-8
    batch_size: int = 128  # images per optimizer step
    epochs: int = 3  # passes over the training split
    augment: tuple[str, ...] = ("crop", "flip")
    crop_padding: int = 4  # pixels of zero padding on each side before the random 32x32 crop
    loss: str = "cross_entropy"

    def with_overrides(self, **overrides) -> "Recipe":
        """This recipe with the non-None overrides applied (CLI flags win over the recipe)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict:
        return asdict(self)


RECIPES = {
    "baseline": Recipe(
        name="baseline",
        # Shared by every model in the walking skeleton: Adam 1e-3, crop(pad 4) + flip, batch 128.
    ),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise BenchError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[name]

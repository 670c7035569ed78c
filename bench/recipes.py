"""Training recipes as typed data: optimizer, schedule, regularisation, loss, augmentation, budget.

A recipe is resolved into every result, so a row always says how it was trained. Units are in
the comments. The learning rate of every step is computed here (`learning_rate_at`), once, and
handed to both frameworks, so their schedules cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from bench.errors import BenchError

AUGMENTATIONS = ("crop", "flip")
LR_SCALING = ("none", "linear", "sqrt")  # how --lr-scaling adapts the learning rate to the batch size
SCHEDULES = ("constant", "exponential", "step", "cosine")


@dataclass(frozen=True)
class Schedule:
    """The learning rate as a function of the optimizer step and the epoch."""

    kind: str = "constant"  # constant | exponential | step | cosine
    decay_rate: float = 0.96  # exponential: lr * decay_rate ** (step / decay_steps) (keras ExponentialDecay)
    decay_steps: int = 1000  # exponential: optimizer steps per factor of decay_rate
    step_epochs: int = 20  # step: lr * gamma ** (epoch // step_epochs) (torch StepLR, stepped per epoch)
    gamma: float = 0.1  # step: factor per step_epochs
    # cosine: lr * (1 + cos(pi * epoch / epochs)) / 2 (torch CosineAnnealingLR per epoch, eta_min 0)


@dataclass(frozen=True)
class Plateau:
    """ReduceLROnPlateau on validation loss: multiply the rate by `factor` after `patience` flat epochs."""

    factor: float = 0.5
    patience: int = 5  # epochs without a new best validation loss
    min_lr: float = 1e-7
    min_delta: float = 1e-4  # an improvement smaller than this does not count (keras's default)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after `patience` epochs without a better validation metric; restore the best weights."""

    monitor: str = "val_loss"  # val_loss (lower is better) | val_accuracy (higher is better)
    patience: int = 15  # epochs
    restore_best: bool = True


@dataclass(frozen=True)
class Recipe:
    name: str
    optimizer: str = "adam"  # adam | sgd
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd only
    adam_epsilon: float = 1e-8  # set on both sides: keras defaults to 1e-7, torch to 1e-8
    weight_decay: float = 0.0  # torch's coupled weight decay (grad += wd * w, after clipping) on every
    #                            parameter; the keras optimizers apply the same (not keras's decoupled one)
    schedule: Schedule = field(default_factory=Schedule)
    plateau: Plateau | None = None
    early_stopping: EarlyStopping | None = None
    loss: str = "cross_entropy"  # cross_entropy | focal
    label_smoothing: float = 0.0
    focal_gamma: float = 2.0  # focal loss: (1 - p) ** gamma
    focal_alpha: float = 0.25  # focal loss: weight of every class
    class_weights: tuple[tuple[str, float], ...] = ()  # (class name, loss weight); others weigh 1
    clip_norm: float | None = None  # clip gradients to this global L2 norm
    batch_size: int = 128  # images per optimizer step
    epochs: int = 3  # passes over the training split
    augment: tuple[str, ...] = ("crop", "flip")
    crop_padding: int = 4  # pixels of zero padding on each side before the random 32x32 crop

    def with_overrides(self, **overrides) -> "Recipe":
        """This recipe with the non-None overrides applied (CLI flags win over the recipe)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def as_dict(self) -> dict:
        return asdict(self)

    def changed_fields(self) -> dict:
        """Only the fields that differ from a default recipe: a trial's identity stays the same
        when later versions add fields whose defaults keep the old behaviour."""
        default = Recipe(name=self.name)
        return {f.name: value for f in fields(self)
                if (value := asdict(self)[f.name]) != asdict(default)[f.name] or f.name == "name"}

    def class_weight_vector(self, class_names: tuple[str, ...]) -> list[float] | None:
        if not self.class_weights:
            return None
        weights = dict(self.class_weights)
        unknown = set(weights) - set(class_names)
        if unknown:
            raise BenchError(f"recipe {self.name}: class weights for unknown classes {sorted(unknown)}")
        return [weights.get(name, 1.0) for name in class_names]


def learning_rate_at(recipe: Recipe, step: int, epoch: int, plateau_scale: float = 1.0) -> float:
    """The learning rate of optimizer step `step` (from 0), in epoch `epoch` (from 0)."""
    schedule, base = recipe.schedule, recipe.learning_rate
    if schedule.kind == "constant":
        rate = base
    elif schedule.kind == "exponential":
        rate = base * schedule.decay_rate ** (step / schedule.decay_steps)
    elif schedule.kind == "step":
        rate = base * schedule.gamma ** (epoch // schedule.step_epochs)
    elif schedule.kind == "cosine":
        rate = base * (1 + math.cos(math.pi * epoch / recipe.epochs)) / 2
    else:
        raise BenchError(f"unknown schedule {schedule.kind!r}; choose from {', '.join(SCHEDULES)}")
    scaled = rate * plateau_scale
    return max(scaled, recipe.plateau.min_lr) if recipe.plateau and plateau_scale < 1 else scaled


RECIPES = {
    # Shared by every model in the walking skeleton: Adam 1e-3, crop(pad 4) + flip, batch 128.
    "baseline": Recipe(name="baseline"),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise BenchError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[name]

"""What a keras training epoch is made of, in keras.ops over the whole epoch: crop and flip in one gather,
colour jitter and rotation, mixup batch by batch, the recipe's loss in float32."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from bench.frameworks import numerics
from bench.frameworks.keras.optimizers import StepTable
from bench.spec.recipes import Recipe


def augment(images, padding: int, flip: bool, seed: keras.random.SeedGenerator):
    """Random crop after zero padding and random horizontal flip of uint8 NHWC images, in one gather
    (bench.frameworks.numerics.crop_flip)."""
    count = images.shape[0]
    top = keras.random.randint((count, 1), 0, 2 * padding + 1, seed=seed)
    left = keras.random.randint((count, 1), 0, 2 * padding + 1, seed=seed)
    flipped = keras.random.uniform((count, 1), seed=seed) < 0.5 if flip else None
    return numerics.crop_flip(ops, images, padding, top, left, flipped)


def recipe_loss(recipe: Recipe, class_weights: list[float] | None):
    """The recipe's loss (bench.frameworks.numerics.recipe_loss) as a keras loss function, in float32."""
    weights = ops.convert_to_tensor(np.array(class_weights, "float32")) if class_weights else None

    def loss(targets, logits):  # mixed precision: the loss in float32, as torch's
        return numerics.recipe_loss(ops, ops.cast(logits, "float32"), targets, recipe, weights)

    return loss


def photometric(pixels, jitter: float, degrees: float, seed: keras.random.SeedGenerator):
    """Colour jitter (brightness, contrast, saturation) and random rotation of NHWC images in [0, 1],
    the same transformations as the torch adapter's `photometric`."""
    count = ops.shape(pixels)[0]
    if jitter:
        uniform = lambda: keras.random.uniform((count, 1, 1, 1), seed=seed)  # noqa: E731
        pixels = numerics.colour_jitter(
            ops, pixels, jitter, uniform, ops.convert_to_tensor(np.array(numerics.GREY, "float32"))
        )
    if degrees:
        angle = (keras.random.uniform((count,), seed=seed) * 2 - 1) * degrees * np.pi / 180
        cos, sin = ops.cos(angle), ops.sin(angle)
        height, width = pixels.shape[1], pixels.shape[2]
        centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
        # Output pixel (x, y) samples the input at the rotation of (x, y) about the centre.
        transform = ops.stack(
            [
                cos,
                -sin,
                centre_x - cos * centre_x + sin * centre_y,
                sin,
                cos,
                centre_y - sin * centre_x - cos * centre_y,
                ops.zeros_like(angle),
                ops.zeros_like(angle),
            ],
            axis=1,
        )
        pixels = ops.image.affine_transform(pixels, transform, interpolation="bilinear", fill_mode="constant")
    return pixels


def mixup(inputs, targets, alpha: float, batch_size: int, seed: keras.random.SeedGenerator):
    """Mixup of a whole epoch at once, batch by batch as fit will see it: each batch is mixed with a
    random permutation of itself, with one lambda ~ Beta(alpha, alpha) per batch."""
    inputs, count = ops.cast(inputs, "float32"), ops.shape(inputs)[0]
    batch = ops.arange(count) // batch_size
    # Sorting random keys offset by batch index permutes within each batch only.
    keys = keras.random.uniform((count,), seed=seed) + ops.cast(batch, "float32") * 2.0
    partner = ops.argsort(keys)
    weights = ops.take(keras.random.beta(((count + batch_size - 1) // batch_size,), alpha, alpha, seed=seed), batch)
    return (
        numerics.mix(ops, inputs, partner, ops.reshape(weights, (-1, 1, 1, 1))),
        numerics.mix(ops, targets, partner, ops.reshape(weights, (-1, 1))),
    )


@dataclass
class TrainState:
    train_x: np.ndarray  # uint8 NHWC
    train_y: np.ndarray
    trainer: keras.Model  # the model behind the input normalisation: what fit and predict run
    recipe: Recipe
    seed: keras.random.SeedGenerator
    schedule: StepTable
    num_classes: int
    class_weights: list[float] | None

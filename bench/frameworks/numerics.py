"""Numerics both adapters share, written once against a small ops namespace that each binds to its own
framework (bench.frameworks.torch.training.TorchOps, keras.ops): the recipe's loss, crop and flip, colour
jitter and mixup. Imports no framework. Random draws stay with each framework (its own generator); these
functions take them as arguments.

An ops namespace has keras.ops's names and keywords (axis, keepdims): sum, mean, exp, log_softmax, clip,
pad, arange, broadcast_to, where, take and reshape.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.spec.recipes import Recipe

GREY = (0.299, 0.587, 0.114)  # luma weights for saturation


def recipe_loss(ops, logits, targets, recipe: Recipe, class_weights=None):
    """The recipe's loss per sample; `targets` are class probabilities (one-hot or mixed), `class_weights` a
    tensor with one weight per class, or None.

    Label smoothing mixes the targets with the uniform distribution; focal loss weighs each class's term by
    alpha * (1 - p) ** gamma (keras's categorical focal cross-entropy); a class weight multiplies the loss
    of the samples of that class (keras's class_weight; not torch's weighted mean).
    """
    classes = logits.shape[-1]
    sample_weights = ops.sum(targets * class_weights, axis=-1) if class_weights is not None else None
    if recipe.label_smoothing:
        targets = targets * (1 - recipe.label_smoothing) + recipe.label_smoothing / classes
    log_probs = ops.log_softmax(logits, axis=-1)
    terms = -targets * log_probs  # cross_entropy, or focal (bench.spec.recipes.LOSSES)
    if recipe.loss == "focal":
        terms = recipe.focal_alpha * (1 - ops.exp(log_probs)) ** recipe.focal_gamma * terms
    per_sample = ops.sum(terms, axis=-1)
    return per_sample * sample_weights if sample_weights is not None else per_sample


def colour_jitter(ops, pixels, jitter: float, uniform: Callable[[], object], grey):
    """Brightness, contrast and saturation of NHWC images in [0, 1], each scaled by a factor uniform in
    [1 - jitter, 1 + jitter] per image; `uniform()` draws one value in [0, 1) per image, shaped (N, 1, 1, 1);
    `grey` holds GREY as a tensor."""
    factor = lambda: 1 + (uniform() * 2 - 1) * jitter  # noqa: E731
    pixels = pixels * factor()
    mean = ops.mean(pixels, axis=(1, 2, 3), keepdims=True)
    pixels = (pixels - mean) * factor() + mean
    luma = ops.sum(pixels * grey, axis=3, keepdims=True)
    return ops.clip((pixels - luma) * factor() + luma, 0, 1)


def crop_flip(ops, images, padding: int, top, left, flipped=None):
    """Random crop after zero padding, and horizontal flip, of uint8 NHWC images in one gather: image i becomes
    the window at row top[i], column left[i] of the padded image, mirrored where flipped[i]. top and left are
    (N, 1) integers in [0, 2 * padding]; flipped is (N, 1) booleans, or None for no flip."""
    count, height, width, channels = images.shape
    padded = ops.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    rows = top + ops.arange(height)[None, :]
    columns = ops.broadcast_to(ops.arange(width)[None, :], (count, width))
    if flipped is not None:
        columns = ops.where(flipped, width - 1 - columns, columns)
    columns = left + columns
    batch = ops.arange(count)[:, None, None]
    flat = (batch * (height + 2 * padding) + rows[:, :, None]) * (width + 2 * padding) + columns[:, None, :]
    pixels = ops.take(ops.reshape(padded, (-1, channels)), ops.reshape(flat, (-1,)), axis=0)
    return ops.reshape(pixels, (count, height, width, channels))


def mix(ops, values, partner, weight):
    """Mixup's blend: weight * values + (1 - weight) * values[partner], with `partner` a permutation within each
    batch and `weight` a scalar or one weight per sample, broadcast against `values`."""
    return weight * values + (1 - weight) * ops.take(values, partner, axis=0)

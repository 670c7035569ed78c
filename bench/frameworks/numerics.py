"""Numerics both adapters share, written once against a small ops namespace that each binds to its own
framework (bench.frameworks.torch.training.TORCH_OPS, keras.ops): the recipe's loss and colour jitter.
Imports no framework.

An ops namespace has sum, mean, exp, log_softmax and clip with numpy's keywords (axis, keepdims).
"""

from __future__ import annotations

from typing import Callable

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
    if recipe.loss == "focal":
        terms = -recipe.focal_alpha * (1 - ops.exp(log_probs)) ** recipe.focal_gamma * targets * log_probs
    elif recipe.loss == "cross_entropy":
        terms = -targets * log_probs
    else:
        raise ValueError(f"unknown loss {recipe.loss!r}")
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

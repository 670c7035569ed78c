"""Test-time augmentation: a model's logits averaged over mirrored and translated views of each test image,
as airbench scores airbench94 (its tta_level 1 and 2). Framework-neutral: the views are made in numpy from
the uint8 images and each is scored by the adapter's predict."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KINDS = ("none", "flip", "flip-translate")


def views(images: np.ndarray, kind: str) -> list[tuple[float, np.ndarray]]:
    """(weight, view) pairs of uint8 NHWC images, weights summing to 1. flip: the images and their mirror
    images, half each. flip-translate: half for those two, half for both mirrored pairs of the images
    shifted one pixel up-left and one pixel down-right over reflect padding (airbench94's tta_level 2)."""
    if kind == "none":
        return [(1.0, images)]
    mirrored = [(0.5, images), (0.5, images[:, :, ::-1])]
    if kind == "flip":
        return mirrored
    if kind != "flip-translate":
        raise ValueError(f"unknown test-time augmentation {kind!r}; choose from {', '.join(KINDS)}")
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    shifted = [padded[:, :height, :width], padded[:, 2 : height + 2, 2 : width + 2]]
    return [(weight / 2, view) for weight, view in mirrored] + [
        (weight / 4, view) for image in shifted for weight, view in ((0.5, image), (0.5, image[:, :, ::-1]))
    ]


def predict(score: Callable[[np.ndarray], np.ndarray], images: np.ndarray, kind: str) -> np.ndarray:
    """The weighted mean of `score`'s logits over the views of `images` (each made contiguous for `score`)."""
    return sum(weight * score(np.ascontiguousarray(view)) for weight, view in views(images, kind))

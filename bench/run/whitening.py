"""airbench's whitening initialisation of a first convolution, in numpy: its filters are the eigenvectors of
the covariance of the training images' k x k patches, each scaled by 1 / sqrt(eigenvalue + eps), with both
signs (2 x 3 x k x k filters). The layer then decorrelates its input patches and stays frozen."""

from __future__ import annotations

import numpy as np

from bench.errors import BenchError
from bench.spec import layers as L

SAMPLE_IMAGES = 5000  # training images the covariance is estimated from (airbench: the first 5,000)
EPSILON = 5e-4  # added to every eigenvalue (airbench's eps)
CHUNK = 500  # images per partial sum (bounds the memory of the patches)


def first_conv(layer_list: list) -> L.Conv:
    """The first layer, which must be a bias-carrying conv without padding of 2 x channels x k x k filters."""
    first = layer_list[0]
    if not (
        isinstance(first, L.Conv)
        and first.pad == 0
        and not first.depthwise
        and first.filters == 2 * L.INPUT_SHAPE[-1] * first.kernel**2
    ):
        raise BenchError(
            "a whitening recipe needs a model whose first layer is a conv without padding of "
            "2 x 3 x k x k filters (as airbench94's)"
        )
    return first


def patch_covariance(pixels: np.ndarray, kernel: int) -> np.ndarray:
    """The (C*k*k)^2 second-moment matrix of every k x k patch of normalised NHWC images, torch's (c, h, w)
    order within a patch."""
    size = pixels.shape[-1] * kernel * kernel
    total, count = np.zeros((size, size)), 0
    for start in range(0, len(pixels), CHUNK):
        windows = np.lib.stride_tricks.sliding_window_view(
            pixels[start : start + CHUNK], (kernel, kernel), axis=(1, 2)
        )  # N, H', W', C, k, k
        patches = windows.reshape(-1, size).astype(np.float64)
        total += patches.T @ patches
        count += len(patches)
    return total / count


def whitening_weights(layer: L.Conv, train_x: np.ndarray, mean, std) -> dict[str, np.ndarray]:
    """The whitening filters for `layer` in torch's layout (OIHW), and a zero bias."""
    pixels = (train_x[:SAMPLE_IMAGES] / 255.0 - np.asarray(mean)) / np.asarray(std)
    eigenvalues, eigenvectors = np.linalg.eigh(patch_covariance(pixels, layer.kernel))
    order = np.argsort(eigenvalues)[::-1]  # largest first, as airbench
    filters = (eigenvectors[:, order] / np.sqrt(eigenvalues[order] + EPSILON)).T
    filters = filters.reshape(-1, L.INPUT_SHAPE[-1], layer.kernel, layer.kernel)
    return {
        "weight": np.concatenate([filters, -filters]).astype(np.float32),
        "bias": np.zeros(layer.filters, np.float32),
    }

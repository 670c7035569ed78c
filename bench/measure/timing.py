"""Honest timing: a monotonic clock read only after the device has finished its queued work,
and epoch-time summaries that keep the first (warm-up, tracing, compilation) epoch apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


class SyncedTimer:
    """Context manager measuring wall seconds between two device synchronisations."""

    def __init__(self, synchronize: Callable[[], None]):
        self.synchronize = synchronize
        self.seconds = float("nan")

    def __enter__(self) -> SyncedTimer:
        self.synchronize()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.synchronize()
        self.seconds = time.perf_counter() - self._start


def summarise_epochs(epoch_seconds: list[float], images_per_epoch: int) -> dict:
    """First epoch apart; median and interquartile range of the steady epochs that follow.

    With a single epoch there is no steady state: the median falls back to the first epoch
    and `steady_epochs` is 0, so tables can flag the figure as including warm-up.
    """
    first = epoch_seconds[0] if epoch_seconds else None
    steady = epoch_seconds[1:]
    basis = steady or epoch_seconds
    if not basis:
        return {
            "first_epoch_s": None,
            "epoch_median_s": None,
            "epoch_iqr_s": None,
            "steady_epochs": 0,
            "train_images_per_s": None,
        }
    median = float(np.median(basis))
    q1, q3 = np.percentile(basis, [25, 75])
    return {
        "first_epoch_s": first,
        "epoch_median_s": median,
        "epoch_iqr_s": float(q3 - q1),
        "steady_epochs": len(steady),
        "train_images_per_s": images_per_epoch / median,
    }

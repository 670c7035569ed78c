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


def warm_up_epochs(epochs: list[dict]) -> list[bool]:
    """Which epochs warm up: the first, and the first of each later process of a trial resumed from its
    checkpoint (its framework starts, traces and compiles again there). An epoch record names its process
    (`process`); records without it ran in one."""
    return [i == 0 or epoch.get("process") != epochs[i - 1].get("process") for i, epoch in enumerate(epochs)]


def on_last_machine(epochs: list[dict]) -> list[bool]:
    """Which epochs ran on the machine of the last one (`machine`, its fingerprint). A trial resumed on another
    machine timed its earlier epochs there; an epoch from before machines were recorded is on the last machine
    only where the last one names none either."""
    last = epochs[-1].get("machine") if epochs else None
    return [epoch.get("machine") == last for epoch in epochs]


def steady_epochs(epochs: list[dict]) -> list[bool]:
    """Which epochs a trial's steady epoch time is made of: those on its last machine (on_last_machine) but the
    warm-up ones (warm_up_epochs)."""
    return [here and not warming for here, warming in zip(on_last_machine(epochs), warm_up_epochs(epochs))]


def summarise_epochs(epoch_seconds: list[float], images_per_epoch: int, warm_up: list[bool] | None = None) -> dict:
    """First epoch apart; median and interquartile range of the steady epochs: all but the warm-up ones
    (`warm_up`, by default the first alone; see warm_up_epochs).

    With a single epoch there is no steady state: the median falls back to the first epoch
    and `steady_epochs` is 0, so tables can flag the figure as including warm-up.
    """
    warm_up = warm_up if warm_up is not None else [i == 0 for i in range(len(epoch_seconds))]
    first = epoch_seconds[0] if epoch_seconds else None
    steady = [seconds for seconds, warming in zip(epoch_seconds, warm_up) if not warming]
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

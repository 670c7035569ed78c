"""The project's one noise model, used by the leaderboard and by `compare` alike.

- Accuracy varies with the seed: a mean over seeds gets a 95 % t-interval, and two means differ
  beyond the noise when Welch's 95 % interval of their difference excludes zero. One seed gives no
  noise estimate, and no verdict.
- Time varies from epoch to epoch and run to run: two sets of steady epoch times (pooled over
  seeds and repeats) differ beyond the noise when a two-sided Mann-Whitney U test gives p < 0.05
  (asv's test) and the ratio of their medians passes a threshold. A set from a single run gives no
  noise estimate (its epochs share one machine state), and no verdict.
- A trial repeated under the same identity is no new evidence about accuracy: it counts once there
  (timing pools its epochs).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 0.05
NO_ESTIMATE = "no noise estimate"
WITHIN = "within noise"


def confidence_95(std: float, n: int) -> float:
    """Half-width of the 95 % t-interval of a mean of `n` samples with standard deviation `std`."""
    return float(stats.t.ppf(1 - ALPHA / 2, n - 1) * std / np.sqrt(n)) if n > 1 else float("nan")


def confidence_95_difference(std_a: float, n_a: int, std_b: float, n_b: int) -> float:
    """Half-width of Welch's 95 % interval for a difference of two means (nan below 2 samples each)."""
    if n_a < 2 or n_b < 2:
        return float("nan")
    var_a, var_b = std_a**2 / n_a, std_b**2 / n_b
    if var_a + var_b == 0:
        return 0.0
    dof = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    return float(stats.t.ppf(1 - ALPHA / 2, dof) * np.sqrt(var_a + var_b))


def accuracy_verdict(old: list[float], new: list[float], minimum: float = 0.0) -> tuple[float, float, str]:
    """(new - old mean, Welch half-width, 'better' | 'worse' | 'within noise' | 'no noise estimate').
    A difference counts when its interval excludes zero and it is at least `minimum`."""
    difference = float(np.mean(new) - np.mean(old))
    half = confidence_95_difference(
        float(np.std(old, ddof=1)) if len(old) > 1 else 0.0,
        len(old),
        float(np.std(new, ddof=1)) if len(new) > 1 else 0.0,
        len(new),
    )
    if np.isnan(half):
        return difference, half, NO_ESTIMATE
    if abs(difference) > half and abs(difference) >= minimum:
        return difference, half, "better" if difference > 0 else "worse"
    return difference, half, WITHIN


def time_verdict(
    old: list[float], new: list[float], old_runs: int, new_runs: int, threshold: float
) -> tuple[float, float | None, str]:
    """(median new / median old, Mann-Whitney p, 'slower' | 'faster' | 'within noise' | 'no noise estimate')."""
    ratio = float(np.median(new) / np.median(old))
    if old_runs < 2 or new_runs < 2:
        return ratio, None, NO_ESTIMATE
    p_value = float(stats.mannwhitneyu(old, new, alternative="two-sided").pvalue)
    if p_value < ALPHA and ratio > threshold:
        return ratio, p_value, "slower"
    if p_value < ALPHA and ratio < 1 / threshold:
        return ratio, p_value, "faster"
    return ratio, p_value, WITHIN


def accuracy_verdict_from_summary(a, b) -> tuple[float, float, str]:
    """accuracy_verdict for two configurations given as mean, std and n (a - b)."""
    difference = float(a["acc_mean"] - b["acc_mean"])
    half = confidence_95_difference(float(a["acc_std"] or 0.0), int(a["n"]), float(b["acc_std"] or 0.0), int(b["n"]))
    if np.isnan(half):
        return difference, half, NO_ESTIMATE
    return difference, half, WITHIN if abs(difference) <= half else ("better" if difference > 0 else "worse")

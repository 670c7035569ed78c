"""The evidence policy: which rows may answer which question, and how sure each answer is.

- **Converged rows answer; smoke rows do not.** A row is converged evidence when it trained for its recipe's
  whole budget (the recipe's epochs or its early stop) on the whole training split and was scored on the whole
  test set (`converged` in bench.report.frame). A subset or a few epochs (a smoke budget) answers nothing about
  which CNN or which batch size; where nothing stronger exists the answer says so and names the command that
  would make the evidence (`no_converged_answer`).
- **A winner is bold only beyond the seed noise**: Welch's 95 % interval of the difference excludes zero
  (`lead`). Otherwise the answer says "within the noise" or "one seed".
- **Framework parity is an equivalence test** (two one-sided t-tests, TOST, at 5 % each): equivalent when
  the 90 % interval of keras - torch lies within ±EQUIVALENCE_MARGIN (`equivalence`).
- **Time ratios never pool** across devices, backends or budget classes, use quiet epochs only, and leave
  out a backend not timed as its users run it (`untypical_timing`).
- **A batch-size answer needs a designed experiment**: the same model, framework, recipe, data and epochs on
  the whole split, two or more batch sizes under one learning-rate rule (`designed_batch_experiments`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bench.report import statistics

# keras - torch test accuracy within ±1 pt counts as no difference (docs/leaderboard.md, Noise model)
EQUIVALENCE_MARGIN = 0.01

CONVERGING_SUITES = {"cpu": "papers-cpu", "cuda": "reports"}  # the suite that makes converged rows per device
BATCH_SUITES = {"cpu": "frontier-cpu"}  # the designed batch-size experiment per device


def no_converged_answer(device: str, suites: dict[str, str] = CONVERGING_SUITES) -> str:
    """The line an answer gives where only smoke budgets ran on this machine, with the command to run."""
    suite = suites.get(device)
    if suite is None:
        return "no converged answer on this machine yet"
    return (
        f"no converged answer on this machine yet: `python -m bench run --suite {suite} --resume` "
        "(`--dry-run` gives its hours)"
    )


def lead(best, other) -> tuple[bool, str]:
    """(bold, words): whether `best`'s lead over `other` (rows with acc_mean, acc_std, n) is beyond the seed
    noise, and how the answer says it."""
    return lead_in_words(statistics.accuracy_verdict_from_summary(best, other)[2])


def lead_in_words(verdict: str) -> tuple[bool, str]:
    """(bold, words) for a verdict of bench.report.statistics on a lead: bold only beyond the seed noise."""
    if verdict == statistics.NO_ESTIMATE:
        return False, "one seed"
    if verdict == statistics.WITHIN:
        return False, "within the noise"
    return True, "beyond the noise"


def ranked_models(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model, its most accurate configuration; models by mean accuracy, then seeds, then name."""
    ordered = rows.sort_values(["acc_mean", "n", "model", "framework"], ascending=[False, False, True, True])
    return ordered.drop_duplicates("model")


def named_leader(best, other) -> tuple[str, str]:
    """`best`'s model name, bold only where its lead over `other` is beyond the seed noise (`lead`), and how the
    answer says the lead."""
    bold, noise = lead(best, other)
    return (f"**{best['model']}**" if bold else best["model"]), noise


NOT_SHOWN = "not shown"
EQUIVALENT = "equivalent"
DIFFERENT = "different"


def equivalence(difference: float, std_a: float, n_a: int, std_b: float, n_b: int) -> tuple[str, str]:
    """TOST on a difference of two means (Welch), as (verdict, why): equivalent when the 90 % interval lies
    inside ±EQUIVALENCE_MARGIN, different when the 95 % interval excludes zero, else not shown."""
    margin = f"±{100 * EQUIVALENCE_MARGIN:g} pt"
    if n_a < 2 or n_b < 2:
        return NOT_SHOWN, "n too small"
    var_a, var_b = std_a**2 / n_a, std_b**2 / n_b
    if var_a + var_b == 0:
        return (EQUIVALENT, f"within {margin}") if abs(difference) < EQUIVALENCE_MARGIN else (DIFFERENT, "no spread")
    dof = (var_a + var_b) ** 2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
    scale = np.sqrt(var_a + var_b)
    if abs(difference) + stats.t.ppf(1 - statistics.ALPHA, dof) * scale < EQUIVALENCE_MARGIN:
        return EQUIVALENT, f"within {margin}"
    if abs(difference) > stats.t.ppf(1 - statistics.ALPHA / 2, dof) * scale:
        return DIFFERENT, "its 95 % interval excludes 0"
    return NOT_SHOWN, f"interval wider than {margin}"


def untypical_timing(framework: str, variant: str, device: str) -> str | None:
    """Why a framework's epoch times do not stand for how its users run it (None where they do): Keras on JAX
    without jit is an interpreter loop no JAX user runs."""
    if framework == "keras (jax)" and "compile" not in variant:
        return "JAX run without jit"
    return None


def converged_rows(configs: pd.DataFrame) -> pd.DataFrame:
    """The configurations that may answer: converged budgets that learned."""
    return configs[configs["converged"] & configs["learned"]]


RECIPE_LR = "recipe's"  # the lr column of a trial that ran at its recipe's learning rate


def papers_parts(configs: pd.DataFrame) -> pd.DataFrame:
    """The papers' parts as their papers trained them: converged rows under a paper's recipe, at its batch size
    and learning rate, unscaled (a batch-size experiment's row at the recipe's batch is that experiment's)."""
    rows = converged_rows(configs)
    return rows[rows["full_budget"] & rows["at_recipe_batch"] & (rows["lr"] == RECIPE_LR) & (rows["lr_rule"] == "none")]


SWEEP_KEYS = ["hardware", "model", "framework", "variant", "dataset", "recipe", "epochs", "train_size", "lr", "lr_rule"]


def designed_batch_experiments(trials: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    """The batch-size experiments that may answer: converged trials alike in everything but the batch size
    and seed (SWEEP_KEYS), two or more batch sizes; widest first, then the most runs."""
    ok = trials[(trials["status"] == "ok") & trials["converged"]]
    sweeps = [(key, group) for key, group in ok.groupby(SWEEP_KEYS, sort=True) if group["batch_size"].nunique() > 1]
    return sorted(sweeps, key=lambda item: (-item[1]["batch_size"].nunique(), -len(item[1]), item[0]))

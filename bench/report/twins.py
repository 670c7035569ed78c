"""Twins: the same trial (its identity, bench.results.store.trial_key) run on two machines. They measure how far
accuracy moves with the hardware alone, which bounds how well converged reference rows carry to another machine
(the same code, recipe, data and seed; another CPU model, or a GPU, changes only the arithmetic's order)."""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from bench.report.evidence import RECIPE_LR

TWIN_COLUMNS = [
    "model",
    "framework",
    "budget",
    "converged",
    "machine",
    "other machine",
    "test acc %",
    "other %",
    "moved (pt)",
]


def twins_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per pair of machines that ran the same trial: both test accuracies and how far it moved."""
    ok = trials[trials["status"] == "ok"]
    rows = []
    for _, runs in ok.groupby("trial_key", sort=True):
        per_machine = runs.groupby("hardware", sort=True)["test_accuracy"].first()
        for (machine, accuracy), (other, other_accuracy) in combinations(per_machine.items(), 2):
            first = runs.iloc[0]
            rows.append(
                {
                    "model": first["model"],
                    "framework": first["framework"],
                    "budget": f"`{first['recipe']}` x {first['epochs']} ep, batch {first['batch_size']}, "
                    f"{_rate(first['lr'])}, {int(first['train_size']):,} img, seed {first['seed']}",
                    "converged": "yes" if runs["converged"].all() else "no",
                    "machine": machine,
                    "other machine": other,
                    "test acc %": f"{100 * accuracy:.2f}",
                    "other %": f"{100 * other_accuracy:.2f}",
                    "moved (pt)": f"{100 * (other_accuracy - accuracy):+.2f}",
                }
            )
    return pd.DataFrame(rows, columns=TWIN_COLUMNS if rows else None)


def _rate(lr: str) -> str:
    return f"the {lr} lr" if lr == RECIPE_LR else f"lr {lr}"


DETAILS = "[details](details.md#same-trial-on-two-machines)"


def twins_line(table: pd.DataFrame, where: str = DETAILS) -> str | None:
    """The bound the twins give, one line for the Answers (`where`: where their table is); None without twins."""
    if table.empty:
        return None
    moved = table["moved (pt)"].astype(float).abs()
    converged = (table["converged"] == "yes").sum()
    return (
        f"The same trial on two machines moved test accuracy by {moved.median():.2f} pt (median) and at most "
        f"{moved.max():.2f} pt over {len(table)} twins, {converged} of them at converged budgets ({where})."
    )

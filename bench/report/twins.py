"""Twins: the same trial (its identity, bench.results.store.trial_key) run on two machines. They measure how far
accuracy moves with the hardware alone, which bounds how well converged reference rows carry to another machine
(the same code, recipe, data and seed; another CPU model, or a GPU, changes only the arithmetic's order)."""

from __future__ import annotations

from itertools import combinations

import pandas as pd

TWIN_COLUMNS = ["model", "framework", "budget", "machine", "other machine", "test acc %", "other %", "moved (pt)"]


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
                    "budget": f"`{first['recipe']}` x {first['epochs']} ep, {int(first['train_size']):,} img, "
                    f"seed {first['seed']}",
                    "machine": machine,
                    "other machine": other,
                    "test acc %": f"{100 * accuracy:.2f}",
                    "other %": f"{100 * other_accuracy:.2f}",
                    "moved (pt)": f"{100 * (other_accuracy - accuracy):+.2f}",
                }
            )
    return pd.DataFrame(rows, columns=TWIN_COLUMNS if rows else None)


def twins_line(table: pd.DataFrame) -> str | None:
    """The bound the twins give, one line for the Answers; None without twins."""
    if table.empty:
        return None
    moved = table["moved (pt)"].astype(float).abs()
    return (
        f"The same trial on two machines moved test accuracy by {moved.median():.2f} pt (median) and at most "
        f"{moved.max():.2f} pt over {len(table)} twins ([details](details.md#same-trial-on-two-machines))."
    )

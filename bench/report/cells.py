"""Table cells shared by several tables: accuracy over seeds, and the mark of a configuration that did not learn."""

from __future__ import annotations

import pandas as pd

from bench.report.answers import learned

DID_NOT_LEARN = "did not learn"


def accuracy_cell(mean: float, std: float, n: int, repeats: int = 0, learned: bool = True) -> str:
    """'71.20 ± 0.85 (n=3)', with the repeats merged into n and a did-not-learn mark where it applies."""
    cell = f"{100 * mean:.2f} ± {100 * std:.2f} (n={n}" if n > 1 else f"{100 * mean:.2f} (n=1"
    cell += f", {repeats} repeat{'s' if repeats > 1 else ''} merged)" if repeats else ")"
    return marked(cell, learned)


def marked(cell: str, learned: bool) -> str:
    """The cell, marked where its configuration did not learn."""
    return cell if learned else f"{cell}, {DID_NOT_LEARN}"


def runs_learned(runs: pd.DataFrame) -> bool:
    """Whether successful trials of one configuration learned: mean test accuracy beyond chance + 2 points."""
    return bool(learned(runs["test_accuracy"].mean(), runs["chance"].iloc[0]))

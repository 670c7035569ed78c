"""The same configuration in PyTorch and in each Keras backend: accuracy difference with Welch's interval and
the equivalence verdict (TOST), epoch-time and memory ratios."""

from __future__ import annotations

import pandas as pd

from bench.frameworks import COMPARED, COMPARED_DIFFERENCE, REFERENCE_FRAMEWORK
from bench.report.answers import SHARED
from bench.report.cells import marked
from bench.report.evidence import EQUIVALENCE_MARGIN, equivalence
from bench.report.frame import GROUP_KEYS
from bench.report.statistics import accuracy_verdict_from_summary


def framework_pair_values(table: pd.DataFrame) -> list[dict]:
    """The same configuration in PyTorch and in each Keras backend, as numbers: accuracy difference (keras -
    torch) with Welch's half-width and verdict, epoch-time and memory ratios."""
    keys = [key for key in GROUP_KEYS if key != "framework"]  # a configuration, in every framework
    pairs = []
    for key, group in table.groupby(keys, sort=True):
        references = group[group["framework"] == REFERENCE_FRAMEWORK]
        if references.empty:
            continue
        reference = references.iloc[0]
        for _, other in group[group["framework"] != REFERENCE_FRAMEWORK].iterrows():
            difference, half, verdict = accuracy_verdict_from_summary(other, reference)
            spread = (float(other["acc_std"] or 0.0), int(other["n"]), float(reference["acc_std"] or 0.0))
            pairs.append(
                {
                    **dict(zip(keys, key)),
                    "framework": other["framework"],
                    "device": other["device"],
                    "n": f"{other['n']}/{reference['n']}",
                    "difference": difference,
                    "half": half,
                    "verdict": verdict,
                    "learned": bool(other["learned"] and reference["learned"]),
                    "equivalence": equivalence(difference, *spread, int(reference["n"])),
                    "time_ratio": other["epoch_s"] / reference["epoch_s"],
                    "first_epoch_ratio": other["first_epoch_s"] / reference["first_epoch_s"],
                    "timed_under_load": bool(other["shared"] or reference["shared"]),
                    "converged": bool(other["converged"] and reference["converged"]),
                    "full_budget": bool(other["full_budget"] and reference["full_budget"]),
                    "memory_ratio": other["peak_rss_mb"] / reference["peak_rss_mb"],
                }
            )
    return pairs


def framework_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """The Frameworks section: framework_pair_values formatted; † marks a time ratio measured under load."""
    return pair_rows(framework_pair_values(table))


def parity_at_convergence(table: pd.DataFrame) -> pd.DataFrame:
    """The pairs at a paper's own budget (its recipe, batch size and epochs, the whole training split)."""
    return pair_rows([pair for pair in framework_pair_values(table) if pair["full_budget"]])


def pair_rows(pairs: list[dict]) -> pd.DataFrame:
    """Framework pairs as table cells."""
    return pd.DataFrame(
        [
            {
                "model": p["model"],
                "hardware": p["hardware"],
                "variant": p["variant"],
                "batch": p["batch_size"],
                "recipe": p["recipe"],
                "epochs": p["epochs"],
                "train images": int(p["train_size"]),
                "test images": int(p["test_size"]),
                "framework": p["framework"],
                f"n {COMPARED}": p["n"],
                f"test acc difference (pt, {COMPARED_DIFFERENCE})": marked(
                    f"{100 * p['difference']:+.2f}", p["learned"]
                ),
                "95% CI (pt)": f"± {100 * p['half']:.2f}" if p["half"] == p["half"] else "n/a (needs 2+ seeds each)",
                f"equivalence (±{100 * EQUIVALENCE_MARGIN:g} pt)": "{} ({})".format(*p["equivalence"]),
                f"epoch time {COMPARED}": f"{p['time_ratio']:.2f}{SHARED if p['timed_under_load'] else ''}",
                f"peak RSS {COMPARED}": f"{p['memory_ratio']:.2f}",
            }
            for p in pairs
        ]
    )

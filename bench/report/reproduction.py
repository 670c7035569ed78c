"""Reported vs reproduced: each paper's published figures beside ours for the same model and recipe, with a
verdict tied to our interval, and the reason a probe found for a miss."""

from __future__ import annotations

import pandas as pd

from bench.errors import BenchError
from bench.report.answers import SHARED
from bench.report.cells import marked, runs_learned
from bench.report.frame import published
from bench.report.statistics import confidence_95
from bench.spec.recipes import get_recipe

REPRODUCED_WITHIN = 0.03  # test accuracy within 3 points of the published figure
AT_PAPERS_BUDGET = "at the paper's own budget"
SHORTER_BUDGET = "shorter budgets (they say nothing of the paper's figure)"
PUBLISHED_DATASET = "cifar10"  # the dataset of a published figure whose spec names none


def _published_accuracy(reported: dict) -> tuple[float | None, str]:
    for key, kind in (("test_accuracy", "test"), ("val_accuracy", "validation")):
        if key in reported:
            return reported[key], f"{100 * reported[key]:.1f} % {kind}"
    return None, "-"


REPORTED_KEYS = [
    "paper",
    "model",
    "recipe",
    "framework",
    "variant",
    "hardware",
    "dataset",
    "dataset_name",
    "batch_size",
    "epochs",
    "train_size",
    "test_size",
]


def reported_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Each paper's published figures (accuracy, params, epoch time) beside ours for the same model and recipe,
    at the recipe's batch size (other batch sizes stand in the Batch size table), with the reason a probe
    found where one ran."""
    ok = trials[trials["headline"]]
    probes = _probe_results(trials)
    rows = [
        _reported_row(dict(zip(REPORTED_KEYS, key)), group, probes)
        for key, group in ok.groupby(REPORTED_KEYS, sort=True)
    ]
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("budget", kind="stable").reset_index(drop=True)


def _ours(group: pd.DataFrame) -> tuple[float, float]:
    """Our mean test accuracy over seeds and its 95 % half-width (nan for one seed); a repeat of a trial on the
    same machine is no new seed (it counts once, as in bench.report.frame.configurations)."""
    accuracy = group.drop_duplicates(["hardware", "trial_key"])["test_accuracy"]
    return float(accuracy.mean()), confidence_95(float(accuracy.std() or 0.0), len(accuracy))


def _reported_row(values: dict, group: pd.DataFrame, probes: pd.DataFrame) -> dict:
    """One part: the paper's figures, ours over seeds, the difference and the verdict, and both settings."""
    reported = published(values["model"])
    accuracy, described = _published_accuracy(reported)
    theirs = reported.get("dataset", PUBLISHED_DATASET)
    if accuracy is not None and theirs != values["dataset_name"]:
        accuracy, described = None, f"{described} on {theirs}: not compared"
    ours, half = _ours(group)
    seeds = group.drop_duplicates(["hardware", "trial_key"])
    spread = f" ± {100 * half:.2f}" if half == half else ""
    context = ", ".join(str(reported[k]) for k in ("framework", "dataset", "stem") if k in reported)
    full = bool(group["full_budget"].all())
    return {
        "budget": AT_PAPERS_BUDGET if full else SHORTER_BUDGET,
        "report": values["paper"],
        "model": values["model"],
        "framework": values["framework"],
        "variant": values["variant"],
        "batch": values["batch_size"],
        "reported accuracy": described,
        "reproduced test acc % (95% CI)": marked(f"{100 * ours:.2f}{spread} (n={len(seeds)})", runs_learned(group)),
        "difference (pt)": f"{100 * (ours - accuracy):+.1f}" if accuracy is not None else "-",
        "verdict": reproduction_verdict(ours, half, accuracy, full),
        "reason found (probe)": probe_reason(probes, values, accuracy) if full else "-",
        "reported params": f"{reported['params']:,}" if "params" in reported else "-",
        "our params": f"{int(group['params'].iloc[0]):,}",
        "reported epoch time": (
            f"{reported['epoch_minutes']} min ({reported.get('hardware', '?')})" if "epoch_minutes" in reported else "-"
        ),
        "our epoch s": f"{group['epoch_s'].median():.1f}{SHARED if group['timing_shared'].any() else ''} "
        f"({values['hardware']})",
        "report's setting": f"{context}, {reported['epochs']} epochs" if "epochs" in reported else context,
        "our data and budget": f"{values['dataset']}, {values['epochs']} epochs, "
        f"{int(values['train_size'])} train / {int(values['test_size'])} test images",
        "same budget and recipe as the report": _budget_cell(group, full),
    }


def reproduction_verdict(ours: float, half: float, published_accuracy: float | None, full_budget: bool) -> str:
    """The verdict on a published accuracy, tied to our 95 % interval: reproduced where the whole interval lies
    within 3 points of it, not reproduced where the whole interval lies beyond, undecided where the interval
    crosses that line; with one seed the mean decides, marked provisional. A shorter budget than the paper's
    says nothing about its figure (budget short); '-' where there is no figure on our dataset."""
    if published_accuracy is None:
        return "-"
    if not full_budget:
        return "budget short"
    gap = abs(ours - published_accuracy)
    if half != half:  # one seed: no interval
        return f"{'reproduced' if gap <= REPRODUCED_WITHIN else 'not reproduced'} (provisional, n=1)"
    if gap + half <= REPRODUCED_WITHIN:
        return "reproduced"
    if gap - half > REPRODUCED_WITHIN:
        return "not reproduced"
    return "undecided (interval crosses 3 pt)"


def _budget_cell(group: pd.DataFrame, full: bool) -> str:
    """yes; the paper's budget with the recipe's stated interpretations; or no, with the budget's note."""
    if group["matches_paper"].all():
        return "yes"
    if full:
        return "the paper's budget; where the paper is silent, the recipe's choices (`recipe.deviations`)"
    return f"no: {group['budget_note'].iloc[0] or 'see recipe deviations'}"


def _probed_recipe(name: str) -> str | None:
    """The paper recipe a probe recipe varies (`Recipe.probe_of`); None for any other recipe."""
    try:
        return get_recipe(name).probe_of
    except BenchError:
        return None


PROBE_KEYS = ["dataset", "hardware", "model", "probe_of", "recipe", "epochs", "train_size", "test_size"]


def _probe_results(trials: pd.DataFrame) -> pd.DataFrame:
    """The probes' ok trials, pooled over frameworks and seeds: mean test accuracy, n and frameworks."""
    ok = trials[trials["status"] == "ok"].assign(probe_of=trials["recipe"].map(_probed_recipe))
    ok = ok[ok["probe_of"].notna()]
    if ok.empty:
        return pd.DataFrame(columns=[*PROBE_KEYS, "accuracy", "n", "frameworks"])
    grouped = ok.groupby(PROBE_KEYS, sort=True)
    return grouped.agg(
        accuracy=("test_accuracy", "mean"),
        n=("test_accuracy", "count"),
        frameworks=("framework", lambda names: ", ".join(sorted(set(names)))),
    ).reset_index()


def probe_reason(probes: pd.DataFrame, values: dict, published_accuracy: float | None) -> str:
    """What the probes of this part's recipe measured (same network, data, hardware and budget): each one's
    accuracy and its distance to the paper's figure; within 3 points it is the reason found. '-' if none ran."""
    same = probes
    for key in ("dataset", "hardware", "model", "epochs", "train_size", "test_size"):
        same = same[same[key] == values[key]]
    same = same[same["probe_of"] == values["recipe"]]
    if same.empty or published_accuracy is None:
        return "-"
    return "; ".join(_probe_sentence(probe, published_accuracy) for probe in same.to_dict("records"))


def _probe_sentence(probe: dict, published_accuracy: float) -> str:
    change = get_recipe(probe["recipe"]).probe
    gap = probe["accuracy"] - published_accuracy
    sentence = (
        f"the same network trained {change} (probe recipe {probe['recipe']}) reaches "
        f"{100 * probe['accuracy']:.2f} % (n={probe['n']}, {probe['frameworks']}), {100 * gap:+.1f} pt from the "
        "paper's figure"
    )
    if abs(gap) <= REPRODUCED_WITHIN:
        sentence += ": within 3 points, the likely reason"
    return sentence

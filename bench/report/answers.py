"""The leaderboard's first screen: which CNN, which framework, which batch size, per hardware.

Three lines per hardware (the newest run's machine first, then GPUs), each of 200 characters or fewer:
the answer with its n, noise and budget, and a link to the table with the rest; a fourth where two or more
models trained at their papers' own budgets (the converged answer, each with its training time). Derived from the same
configuration and trial tables as the rest of the leaderboard; configurations that did not learn are never
recommended.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.frameworks import REFERENCE_FRAMEWORK
from bench.report import statistics

COMPARABLE = ["dataset", "recipe", "epochs", "train_size", "test_size"]
DID_NOT_LEARN_MARGIN = 0.02  # test accuracy within 2 points of chance: the model did not learn


def learned(mean_accuracy, chance):
    """Whether a configuration learned: its mean test accuracy beyond chance + DID_NOT_LEARN_MARGIN (numbers or
    pandas columns alike)."""
    return mean_accuracy > chance + DID_NOT_LEARN_MARGIN


def _accuracy(row) -> str:
    spread = f" ± {100 * row['acc_std']:.1f}" if row["n"] > 1 else ""
    return f"{100 * row['acc_mean']:.1f}{spread} % (n={row['n']})"


def _budget(row) -> str:
    """`r2` × 50 ep, 45,000 img: the recipe and budget, short (the linked table has the rest)."""
    return f"`{row['recipe']}` × {row['epochs']} ep, {int(row['train_size']):,} img"


def which_model(configs: pd.DataFrame) -> str:
    """The best model at the largest budget where two or more models that learned compete (over seeds
    where some budget has them)."""
    learned = configs[configs["learned"]]
    contests = [(key, group) for key, group in learned.groupby(COMPARABLE, sort=True) if group["model"].nunique() > 1]
    if not contests:
        return "no two models compared at one budget yet"
    # Seeds first (a ranking with a noise estimate), then the largest budget, then the most models.
    _, group = max(
        contests, key=lambda item: (item[1]["n"].min() > 1, item[0][2] * item[0][3], item[1]["model"].nunique())
    )
    ranked = group.sort_values(["acc_mean", "model"], ascending=[False, True])
    best = ranked.iloc[0]
    other = ranked[ranked["model"] != best["model"]].iloc[0]
    verdict = statistics.accuracy_verdict_from_summary(best, other)[2]
    noise = {statistics.NO_ESTIMATE: "one seed", statistics.WITHIN: "within the seed noise"}.get(
        verdict, "beyond the seed noise"
    )
    link = "[architectures](#architectures)" if best["recipe"] == "common" else "[details](details.md)"
    return (
        f"**{best['model']}** ({best['framework']}) {_accuracy(best)}; next **{other['model']}** "
        f"{100 * other['acc_mean']:.1f} %, {noise}; {group['model'].nunique()} models, {_budget(best)} ({link})"
    )


def _training_time(row) -> str:
    """A configuration's training time: its epochs at its median epoch time, † where timed under load."""
    minutes = row["epochs"] * row["epoch_s"] / 60
    return f"{minutes:.0f} min{SHARED if row['shared'] else ''}"


def at_papers_budgets(configs: pd.DataFrame) -> str | None:
    """The most accurate model and the next among those trained at their papers' own budgets (each its paper's
    recipe and epochs, so the budgets differ: each with its training time), on the dataset most of them used;
    None where fewer than two models have such rows (a probe recipe has no paper, so no paper's budget)."""
    own = configs[configs["full_budget"] & configs["learned"]]
    if own.empty:
        return None
    own = own[own["dataset"] == own["dataset"].value_counts().index[0]]
    ranked = own.sort_values(["acc_mean", "n", "model"], ascending=[False, False, True]).drop_duplicates("model")
    if len(ranked) < 2:
        return None
    best, other = ranked.iloc[0], ranked.iloc[1]
    return (
        f"**{best['model']}** ({best['framework']}) {_accuracy(best)}, {_training_time(best)}; next "
        f"**{other['model']}** {100 * other['acc_mean']:.1f} %, {_training_time(other)}; {len(ranked)} models "
        "([reported vs reproduced](#reported-vs-reproduced))"
    )


SHARED = "†"  # marks an epoch time measured under load: another trial, or other processes (bench.measure.load)


def _quiet_median_ratio(pairs: list[dict]) -> float:
    """The median epoch-time ratio of the pairs timed without load; of all pairs where every one was loaded."""
    quiet = [p["time_ratio"] for p in pairs if not p["timed_under_load"]]
    return float(np.median(quiet or [p["time_ratio"] for p in pairs]))


def which_framework(pairs: list[dict]) -> str:
    """The fastest keras backend against torch: epoch-time ratio and accuracy difference over matched
    configurations; the other backends are a link away."""
    if not pairs:
        return "no model run in both frameworks with the same settings yet"
    by_backend: dict[str, list[dict]] = {}
    for pair in pairs:
        by_backend.setdefault(pair["framework"], []).append(pair)
    ratios = {backend: _quiet_median_ratio(rows) for backend, rows in by_backend.items()}
    backend = min(ratios, key=ratios.get)
    rows = by_backend[backend]
    judged = [p for p in rows if p["verdict"] != statistics.NO_ESTIMATE]
    beyond = sum(p["verdict"] != statistics.WITHIN for p in judged)
    noise = f"{beyond} of {len(judged)} beyond the noise" if judged else "one seed each"
    learned = [p["difference"] for p in rows if p["learned"]]  # pairs where a side did not learn say nothing
    accuracy = f"{100 * float(np.median(learned)):+.1f} pt" if learned else "no pair both learned"
    loaded = sum(p["timed_under_load"] for p in rows)
    mark = SHARED if loaded == len(rows) else ""
    left_out = f", {loaded} loaded left out" if loaded and not mark else ""
    others = f"; {len(ratios) - 1} more backend{'s' if len(ratios) > 2 else ''}" if len(ratios) > 1 else ""
    return (
        f"**{REFERENCE_FRAMEWORK if ratios[backend] > 1 else backend}**: {backend} takes {ratios[backend]:.2f}x{mark} "
        f"{REFERENCE_FRAMEWORK}'s epoch time, accuracy {accuracy} (median of {len(rows)}{left_out}; {noise}){others} "
        f"([frameworks](#frameworks))"
    )


SWEEP_KEYS = ["model", "framework", "dataset", "recipe", "epochs", "train_size", "lr", "lr_rule", "variant"]
RECIPE_LR = "recipe's"  # the lr column of a trial that ran at its recipe's learning rate


def widest_sweep(trials: pd.DataFrame) -> tuple[tuple, pd.DataFrame] | None:
    """The batch-size sweep with the most batch sizes (then the most runs, torch first), or None."""
    ok = trials[trials["status"] == "ok"]
    sweeps = [(key, group) for key, group in ok.groupby(SWEEP_KEYS, sort=True) if group["batch_size"].nunique() > 1]
    if not sweeps:
        return None
    return max(
        sweeps, key=lambda item: (item[1]["batch_size"].nunique(), len(item[1]), item[0][1] == REFERENCE_FRAMEWORK)
    )


def _throughput_gain(smallest: pd.DataFrame, largest: pd.DataFrame) -> tuple[float, str]:
    """Median images/s at the largest batch over the smallest, from runs timed without load where both have
    some (else all runs, and the mark †)."""
    quiet_small, quiet_large = smallest[~smallest["timing_shared"]], largest[~largest["timing_shared"]]
    if len(quiet_small) and len(quiet_large):
        return quiet_large["images_per_s"].median() / quiet_small["images_per_s"].median(), ""
    return largest["images_per_s"].median() / smallest["images_per_s"].median(), SHARED


def which_batch_size(trials: pd.DataFrame) -> str:
    """The widest batch-size sweep: throughput gained from the smallest to the largest batch, and where
    accuracy starts to fall (beyond the seed noise) under the learning-rate rule used."""
    sweep = widest_sweep(trials)
    if sweep is None:
        return "no batch-size sweep on this hardware yet"
    (model, framework, *_, rate, rule, _), group = sweep
    group = group.drop_duplicates("trial_key")  # a repeated trial is no new evidence about accuracy
    group = group[learned(group.groupby("batch_size")["test_accuracy"].transform("mean"), group["chance"])]
    if group["batch_size"].nunique() < 2:
        return f"**{model}** ({framework}): fewer than two batch sizes learned"
    per_batch = {batch: runs for batch, runs in group.groupby("batch_size", sort=True)}
    smallest, largest = min(per_batch), max(per_batch)
    speed, loaded = _throughput_gain(per_batch[smallest], per_batch[largest])
    accuracy = {batch: runs["test_accuracy"].dropna().tolist() for batch, runs in per_batch.items()}
    best = max(accuracy, key=lambda batch: np.mean(accuracy[batch]))
    falls = [
        batch
        for batch in sorted(accuracy)
        if batch > best and statistics.accuracy_verdict(accuracy[best], accuracy[batch])[2] == "worse"
    ]
    n = min(len(values) for values in accuracy.values())
    trend = (
        f"falls beyond the noise from {falls[0]}" if falls else "within the noise throughout" if n > 1 else "one seed"
    )
    return (
        f"**{model}** ({framework}), batch {smallest} → {largest}: {speed:.1f}x{loaded} images/s, "
        f"accuracy {100 * np.mean(accuracy[smallest]):.1f} → {100 * np.mean(accuracy[largest]):.1f} % "
        f"(best {best}, n={n}), {trend}; "
        + (f"lr rule `{rule}`" if rate == RECIPE_LR else f"lr {rate} at every batch")
        + " ([batch size](#batch-size))"
    )


def hardware_order(trials: pd.DataFrame) -> list[str]:
    """Hardware labels: the machine of the newest trial first (a run's leaderboard answers for the machine
    that made it), then GPUs, then CPUs."""
    devices = trials.groupby("hardware")["device"].first()
    newest = trials.sort_values("finished_at", na_position="first")["hardware"].iloc[-1]
    return sorted(devices.index, key=lambda hardware: (hardware != newest, devices[hardware] == "cpu", hardware))


def answer_lines(configs: pd.DataFrame, trials: pd.DataFrame, pairs: list[dict]) -> list[str]:
    """The answer box: per hardware, GPUs first, the three answers."""
    lines = []
    for hardware in hardware_order(trials):
        mine = configs[configs["hardware"] == hardware]
        if mine.empty:
            continue
        converged = at_papers_budgets(mine)
        lines += [
            f"**{hardware}**",
            "",
            f"- Which CNN: {which_model(mine)}",
            *([f"- Which CNN at the papers' own budgets: {converged}"] if converged else []),
            f"- Which framework: {which_framework([p for p in pairs if p['hardware'] == hardware])}",
            f"- Which batch size: {which_batch_size(trials[trials['hardware'] == hardware])}",
            "",
        ]
    return lines

"""The leaderboard's first screen: which CNN, which framework, which batch size, per machine.

Each answer comes from the evidence that can carry it (bench.report.evidence): the papers' parts trained at their
own budgets, both frameworks' converged pairs, a designed batch-size experiment. Where a machine has only smoke
budgets the answer says so and names the command that would make the evidence. One line per answer, 200
characters or fewer; configurations that did not learn are never recommended.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from bench.frameworks import REFERENCE_FRAMEWORK
from bench.report import evidence, statistics
from bench.report.evidence import RECIPE_LR

DID_NOT_LEARN_MARGIN = 0.02  # test accuracy within 2 points of chance: the model did not learn
SHARED = "†"  # marks an epoch time measured under load: another trial, or other processes (bench.measure.load)


def learned(mean_accuracy, chance):
    """Whether a configuration learned: its mean test accuracy beyond chance + DID_NOT_LEARN_MARGIN (numbers or
    pandas columns alike)."""
    return mean_accuracy > chance + DID_NOT_LEARN_MARGIN


def accuracy_text(row) -> str:
    """'79.1 ± 0.5 % (n=3)': a configuration's mean test accuracy, its spread over seeds and n."""
    spread = f" ± {100 * row['acc_std']:.1f}" if row["n"] > 1 else ""
    return f"{100 * row['acc_mean']:.1f}{spread} % (n={int(row['n'])})"


def _training_time(row) -> str:
    """A configuration's training time: the epochs it ran (its early stop, or its budget) at its median epoch
    time, † where timed under load."""
    minutes = row["epochs_run"] * row["epoch_s"] / 60
    return f"{minutes:.0f} min{SHARED if row['shared'] else ''}"


def which_model(configs: pd.DataFrame, device: str) -> str:
    """The most accurate model and the next among the papers' parts trained at their own budgets and batch sizes
    (so the budgets differ: each with its training time), on the dataset most of them used; the best is bold
    only beyond the seed noise. Smoke budgets rank nothing."""
    own = evidence.papers_parts(configs)
    if not own.empty:
        own = own[own["dataset"] == own["dataset"].value_counts().index[0]]
    ranked = evidence.ranked_models(own)
    if len(ranked) < 2:
        return evidence.no_converged_answer(device)
    best, other = ranked.iloc[0], ranked.iloc[1]
    name, noise = evidence.named_leader(best, other)
    return (
        f"{name} ({best['framework']}) {accuracy_text(best)}, {_training_time(best)}; next {other['model']} "
        f"{100 * other['acc_mean']:.1f} %, {_training_time(other)}: {noise}; {len(ranked)} models at their "
        "papers' budgets ([reported vs reproduced](#reported-vs-reproduced))"
    )


def _timing(rows: list[dict], device: str) -> str:
    """The median epoch-time ratio of the quiet pairs (of all, marked †, where every one was loaded); on a GPU
    also the first epoch's, which holds compilation."""
    quiet = [p["time_ratio"] for p in rows if not p["timed_under_load"]]
    if quiet:
        steady = f"epoch time {np.median(quiet):.2f}x ({len(quiet)} of {len(rows)} quiet)"
    else:
        steady = f"epoch time {np.median([p['time_ratio'] for p in rows]):.2f}x{SHARED} (every pair under load)"
    if device != "cuda":
        return steady
    return f"{steady}, first epoch {np.median([p['first_epoch_ratio'] for p in rows]):.2f}x"


def which_framework(pairs: list[dict], device: str) -> str:
    """Each part trained to convergence in torch and in the Keras backend with the most such parts: the
    epoch-time ratio over quiet pairs, and how many parts the equivalence test calls equivalent. Backends never
    pool, nor do budgets; a backend not timed as its users run it is left out."""
    usable = [
        p
        for p in pairs
        if p["converged"] and p["learned"] and not evidence.untypical_timing(p["framework"], p["variant"], device)
    ]
    if not usable:
        return evidence.no_converged_answer(device)
    by_backend: dict[str, list[dict]] = {}
    for pair in usable:
        by_backend.setdefault(pair["framework"], []).append(pair)
    backend = max(sorted(by_backend), key=lambda name: len(by_backend[name]))
    rows = by_backend[backend]
    verdicts = Counter(p["equivalence"][0] for p in rows)
    parity = ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items()))
    return (
        f"{backend} / {REFERENCE_FRAMEWORK}, {len(rows)} converged pairs: {_timing(rows, device)}; accuracy "
        f"{parity} (±{100 * evidence.EQUIVALENCE_MARGIN:g} pt) ([parity](#framework-parity-at-convergence))"
    )


def _throughput_gain(smallest: pd.DataFrame, largest: pd.DataFrame) -> tuple[float, str]:
    """Median images/s at the largest batch over the smallest, from runs timed without load where both have
    some (else all runs, and the mark †)."""
    quiet_small, quiet_large = smallest[~smallest["timing_shared"]], largest[~largest["timing_shared"]]
    if len(quiet_small) and len(quiet_large):
        return quiet_large["images_per_s"].median() / quiet_small["images_per_s"].median(), ""
    return largest["images_per_s"].median() / smallest["images_per_s"].median(), SHARED


def which_batch_size(trials: pd.DataFrame, device: str) -> str:
    """The widest designed batch-size experiment (bench.report.evidence): throughput gained from the smallest
    to the largest batch, and where accuracy starts to fall (beyond the seed noise) under its learning-rate
    rule."""
    experiments = evidence.designed_batch_experiments(trials)
    if not experiments:
        return evidence.no_converged_answer(device, evidence.BATCH_SUITES).replace(
            "no converged answer", "no designed batch-size experiment"
        )
    (_, model, framework, _, _, _, epochs, _, rate, rule), group = experiments[0]
    group = group.drop_duplicates("trial_key")  # a repeated trial is no new evidence about accuracy
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
    trend = f"falls beyond the noise from {falls[0]}" if falls else "within the noise" if n > 1 else "one seed"
    return (
        f"{model} ({framework}), {epochs} ep, batch {smallest} → {largest}: {speed:.1f}x{loaded} images/s, "
        f"accuracy {100 * np.mean(accuracy[smallest]):.1f} → {100 * np.mean(accuracy[largest]):.1f} % "
        f"(best {best}, n={n}), {trend}; "
        + (f"lr rule `{rule}`" if rate == RECIPE_LR else f"lr {rate} throughout")
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
        here = trials[trials["hardware"] == hardware]
        device = here["device"].iloc[0]
        lines += [
            f"**{hardware}**",
            "",
            f"- Which CNN: {which_model(mine, device)}",
            f"- Which framework: {which_framework([p for p in pairs if p['hardware'] == hardware], device)}",
            f"- Which batch size: {which_batch_size(here, device)}",
            "",
        ]
    return lines

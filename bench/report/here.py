"""Your machine's answer in minutes: accuracy from the reference, time measured here.

Accuracy is a property of code, recipe, data and seed far more than of the machine, so converged rows measured
once (the reference: the project's committed `results/`, each row naming its machine and n) carry to another
machine within the bound their twins measure (bench.report.twins). Time is the machine's own: the default suite
(bench.spec.suites) times here, through the trial's own path, what the reference trained. Every figure says
where it comes from: "reference" or "here".

Transfer needs the same images, precision and framework: a user's own folder has no reference rows (the answer
says so), a reference trained on other images of the same dataset is named beside its accuracy, and rows are
matched per framework and backend.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.frameworks import REFERENCE_FRAMEWORK
from bench.report import evidence, statistics
from bench.report.answers import SHARED, accuracy_text, hardware_order
from bench.report.pairs import framework_pair_values
from bench.report.twins import twins_line, twins_table

# a reference row and a timing here alike in these: the same data, network, recipe, framework and backend, batch
# size and speed variant (precision, compilation, loader)
MATCH = ["dataset_name", "model", "recipe", "framework", "variant", "batch_size"]
FRONTIER_COMMAND = f"`python -m bench run --suite {evidence.BATCH_SUITES['cpu']} --resume`"


def timings_here(trials: pd.DataFrame) -> pd.DataFrame:
    """The newest machine's timing trials (those short of a converged budget, with a steady epoch) per MATCH key:
    median images/s, whether timed under load, and the images they trained on."""
    newest = hardware_order(trials)[0]
    ok = trials[
        (trials["status"] == "ok")
        & (trials["hardware"] == newest)
        & ~trials["converged"]
        & ~trials["warmup_in_epoch_time"]
        & trials["images_per_s"].notna()
    ]
    return (
        ok.groupby(MATCH, sort=True)
        .agg(
            ips_here=("images_per_s", "median"),
            shared_here=("timing_shared", "any"),
            dataset_here=("dataset", "first"),
            hardware_here=("hardware", "first"),
        )
        .reset_index()
    )


def reference_parts(reference_configs: pd.DataFrame) -> pd.DataFrame:
    """The papers' parts at their own budgets in the reference, one row per MATCH key: the machine with the most
    seeds."""
    parts = evidence.papers_parts(reference_configs)
    return parts.sort_values(["n", "hardware"], ascending=[False, True]).drop_duplicates(MATCH)


def training_minutes(epochs, images, images_per_s):
    """Minutes of training: `epochs` over `images` at `images_per_s` (numbers or pandas columns alike)."""
    return epochs * images / images_per_s / 60


def joined(reference: pd.DataFrame, here: pd.DataFrame) -> pd.DataFrame:
    """Reference rows with a time here: their training time on this machine is the epochs the reference ran (its
    early stop or budget) over its training images at the images/s measured here."""
    rows = reference.merge(here, on=MATCH, how="inner")
    rows["minutes_here"] = training_minutes(rows["epochs_run"], rows["train_size"], rows["ips_here"])
    return rows


def _minutes(minutes: float, shared: bool) -> str:
    text = f"{minutes:.0f} min" if minutes >= 1 else f"{60 * minutes:.0f} s"
    return text + (SHARED if shared else "")


def short_machine(hardware: str) -> str:
    """'Intel(R) Xeon(R) Processor #b69eb0': a hardware label without its thread count."""
    name, _, fingerprint = hardware.rpartition(" #")
    return f"{name.split(', ')[0]} #{fingerprint}"


def _reference(row) -> str:
    """'79.1 ± 0.5 % (reference n=3, Intel(R) Xeon(R) Processor #b69eb0)', and the reference's images where this
    run trained on others."""
    other = f", on {row['dataset']}" if row["dataset"] != row["dataset_here"] else ""
    text = accuracy_text(row).replace("(n=", "(reference n=").rstrip(")")
    return f"{text}, {short_machine(row['hardware'])}{other})"


def which_model_here(rows: pd.DataFrame) -> str:
    """The most accurate part by reference accuracy, and the next, each with its training time here."""
    ranked = evidence.ranked_models(rows)
    if len(ranked) < 2:
        return "fewer than two parts have both reference rows and a time here"
    best, other = ranked.iloc[0], ranked.iloc[1]
    name, noise = evidence.named_leader(best, other)
    return (
        f"{name} ({best['framework']}) {_reference(best)}, about {_minutes(best['minutes_here'], best['shared_here'])}"
        f" of training here; next {other['model']} {100 * other['acc_mean']:.1f} %, about "
        f"{_minutes(other['minutes_here'], other['shared_here'])} here: {noise}"
    )


def within_budget(rows: pd.DataFrame, budget_s: float) -> str:
    """The most accurate part (by reference accuracy) whose training here fits `budget_s`, or the fastest."""
    budget = _minutes(budget_s / 60, False)
    fits = evidence.ranked_models(rows[rows["minutes_here"] * 60 <= budget_s])
    if fits.empty:
        fastest = rows.sort_values("minutes_here").iloc[0]
        return (
            f"no part trains within {budget} here; the fastest, {fastest['model']} ({fastest['framework']}), "
            f"takes about {_minutes(fastest['minutes_here'], fastest['shared_here'])}"
        )
    best = fits.iloc[0]
    name, noise = (
        evidence.named_leader(best, fits.iloc[1]) if len(fits) > 1 else (best["model"], "the only one that fits")
    )
    return (
        f"{name} ({best['framework']}) {_reference(best)}, about "
        f"{_minutes(best['minutes_here'], best['shared_here'])} here; {len(fits)} of {rows['model'].nunique()} "
        f"parts fit: {noise}"
    )


def time_ratios_here(here: pd.DataFrame, device: str = "cpu") -> dict[str, list[tuple[float, bool]]]:
    """Per other framework: (its epoch time over torch's, whether either was timed under load), measured here,
    one per configuration timed in both; a backend not timed as its users run it is left out."""
    keys = [key for key in MATCH if key != "framework"]
    ratios: dict[str, list[tuple[float, bool]]] = {}
    for _, group in here.groupby(keys, sort=True):
        torch = group[group["framework"] == REFERENCE_FRAMEWORK]
        for _, other in group[group["framework"] != REFERENCE_FRAMEWORK].iterrows():
            if torch.empty or evidence.untypical_timing(other["framework"], other["variant"], device):
                continue
            loaded = bool(other["shared_here"] or torch["shared_here"].iloc[0])
            ratios.setdefault(other["framework"], []).append((torch["ips_here"].iloc[0] / other["ips_here"], loaded))
    return ratios


def parity_in_reference(reference_configs: pd.DataFrame, backend: str, datasets: set[str]) -> str:
    """The TOST verdicts of the reference's converged pairs of `backend` on `datasets`, from the reference
    machine with the most such pairs (a part converged on two machines counts once)."""
    pairs = [
        p
        for p in framework_pair_values(reference_configs)
        if p["converged"] and p["learned"] and p["framework"] == backend and p["dataset"] in datasets
    ]
    if not pairs:
        return "no converged pair"
    machines = pd.Series([p["hardware"] for p in pairs]).value_counts()
    machine = sorted(machines[machines == machines.max()].index)[0]
    verdicts = pd.Series([p["equivalence"][0] for p in pairs if p["hardware"] == machine]).value_counts()
    counts = ", ".join(f"{count} {verdict}" for verdict, count in verdicts.sort_index().items())
    return f"{counts} (±{100 * evidence.EQUIVALENCE_MARGIN:g} pt, {short_machine(machine)})"


def which_framework_here(here: pd.DataFrame, reference_configs: pd.DataFrame, datasets: set[str]) -> str:
    """The epoch-time ratio measured here, quiet configurations only where there are some (the backend timed
    on the most configurations), and parity at convergence from the reference (parity_in_reference)."""
    ratios = time_ratios_here(here)
    if not ratios:
        return "no configuration was timed here in two frameworks"
    backend = max(sorted(ratios), key=lambda name: len(ratios[name]))
    quiet = [ratio for ratio, loaded in ratios[backend] if not loaded]
    values = quiet or [ratio for ratio, _ in ratios[backend]]
    loaded = "" if quiet else SHARED
    spread = f", {min(values):.2f}x to {max(values):.2f}x" if len(values) > 1 else ""
    return (
        f"{backend} / {REFERENCE_FRAMEWORK} epoch time here {np.median(values):.2f}x{loaded} (median of "
        f"{len(values)} configuration{'s' if len(values) > 1 else ''}{spread}); accuracy at convergence "
        f"(reference): {parity_in_reference(reference_configs, backend, datasets)}"
    )


def _frontier_here(reference_trials: pd.DataFrame, here: pd.DataFrame):
    """The widest designed batch-size experiment of the reference with two or more of its batch sizes timed
    here alike (MATCH): (its key by name, its trials, the timings here); None where there is none."""
    for key, group in evidence.designed_batch_experiments(reference_trials):
        fields = dict(zip(evidence.SWEEP_KEYS, key))
        timed = here[
            (here["model"] == fields["model"])
            & (here["framework"] == fields["framework"])
            & (here["variant"] == fields["variant"])
            & (here["recipe"] == fields["recipe"])
            & (here["dataset_name"] == group["dataset_name"].iloc[0])
            & here["batch_size"].isin(group["batch_size"])
        ]
        if timed["batch_size"].nunique() > 1:
            return fields, group.drop_duplicates("trial_key"), timed
    return None


def frontier_rows(group: pd.DataFrame, timed: pd.DataFrame) -> pd.DataFrame:
    """Per batch size timed here: reference accuracies, the epochs the runs ran, the epoch they reached their
    target in (NaN unless every run reached it), and the training time and time to that target here."""
    per_batch = group.groupby("batch_size").agg(
        accuracies=("test_accuracy", lambda values: values.dropna().tolist()),
        acc_mean=("test_accuracy", "mean"),
        n=("test_accuracy", "count"),
        epochs_run=("epochs_run", "median"),
        tta_epoch=("tta_epoch", lambda epochs: epochs.median() if epochs.notna().all() else np.nan),
        tta_target=("tta_target", "first"),
        train_size=("train_size", "first"),
    )
    rows = per_batch.join(timed.set_index("batch_size")[["ips_here", "shared_here"]], how="inner").reset_index()
    rows["minutes_here"] = training_minutes(rows["epochs_run"], rows["train_size"], rows["ips_here"])
    rows["to_target_here"] = training_minutes(rows["tta_epoch"], rows["train_size"], rows["ips_here"])
    return rows


def _fastest_to_target(rows: pd.DataFrame) -> str:
    """The batch that reaches the frontier's target soonest here, among those whose every run reached it."""
    reached = rows.dropna(subset=["to_target_here"])
    if reached.empty:
        return "no batch reached the target in every run"
    quick = reached.sort_values(["to_target_here", "batch_size"]).iloc[0]
    return (
        f"fastest to {100 * rows['tta_target'].iloc[0]:.0f} % validation: batch {int(quick['batch_size'])}, about "
        f"{_minutes(quick['to_target_here'], quick['shared_here'])} here"
    )


def which_batch_size_here(reference_trials: pd.DataFrame, here: pd.DataFrame) -> str:
    """From the reference's batch-size frontier and the images/s per batch size here: the most accurate batch
    (beyond the seed noise over the next, or not), its training time here, and the batch fastest to the
    frontier's target accuracy here."""
    found = _frontier_here(reference_trials, here)
    if found is None:
        return _throughput_only(here)
    fields, group, timed = found
    rows = frontier_rows(group, timed).sort_values(["acc_mean", "batch_size"], ascending=[False, True])
    best = rows.iloc[0]
    _, words = evidence.lead_in_words(statistics.accuracy_verdict(best["accuracies"], rows.iloc[1]["accuracies"])[2])
    return (
        f"{fields['model']} ({fields['framework']}), reference frontier ({short_machine(fields['hardware'])}, "
        f"n={int(rows['n'].min())}, lr rule `{fields['lr_rule']}`): most accurate batch {int(best['batch_size'])}, "
        f"{100 * best['acc_mean']:.1f} % ({words}) in about {_minutes(best['minutes_here'], best['shared_here'])} "
        f"here; {_fastest_to_target(rows)}"
    )


def _throughput_only(here: pd.DataFrame) -> str:
    """Without a reference frontier: where the images/s per batch size measured here are (the table)."""
    missing = f"no reference batch-size frontier yet ({FRONTIER_COMMAND}, hours)"
    counts = here.groupby(["model", "framework"])["batch_size"].nunique()
    if counts.empty or counts.max() < 2:
        return missing
    model = counts.idxmax()[0]
    return f"{missing}; {model}'s images/s per batch size here are in the table below"


HERE_COLUMNS = ["model", "framework", "batch", "images/s here", "training here", "reference acc %", "reference"]


def here_table(reference: pd.DataFrame, here: pd.DataFrame) -> pd.DataFrame:
    """Every configuration timed here: its images/s, and where the reference has it, its accuracy, n and machine
    and its training time here."""
    rows = here.merge(reference, on=MATCH, how="left")
    rows["minutes_here"] = training_minutes(rows["epochs_run"], rows["train_size"], rows["ips_here"])
    rows = rows.sort_values(["acc_mean", "model", "framework", "batch_size"], ascending=[False, True, True, True])
    table = [
        {
            "model": row["model"],
            "framework": row["framework"],
            "batch": row["batch_size"],
            "images/s here": f"{row['ips_here']:,.0f}{SHARED if row['shared_here'] else ''}",
            "training here": "-" if pd.isna(row["minutes_here"]) else _minutes(row["minutes_here"], row["shared_here"]),
            "reference acc %": "-" if pd.isna(row["acc_mean"]) else accuracy_text(row).replace(" %", ""),
            "reference": "none yet"
            if pd.isna(row["acc_mean"])
            else f"{short_machine(row['hardware'])}, {row['epochs_run']:.0f} ep",
        }
        for _, row in rows.iterrows()
    ]
    return pd.DataFrame(table, columns=HERE_COLUMNS)


INTRO = (
    "Accuracy from the **reference**: converged rows committed in the project's `results/` (the papers' parts at "
    "their own budgets; machine and seeds named). Time **measured here** by this run, through the trial's own path "
    "(the default suite: 2 epochs of 2,048 images or more each, the second timed), for the epochs the reference "
    "ran on its training images: one timed epoch, so a model whose epoch here takes about a second (r2's) may time "
    "up to 2x apart between runs, Keras most; those of 8 s or more within 4 %. Bold: a lead beyond the seed noise; "
    "† timed under load."
)


def here_lines(
    trials: pd.DataFrame, reference_trials: pd.DataFrame, reference_configs: pd.DataFrame, budget_s: float | None
) -> list[str]:
    """The section 'Your machine': the three answers (and the budget's) for the run's newest machine, the bound
    the reference's twins give, and the table behind them; none where nothing was timed here, or the data has
    reference rows but no part of them was timed."""
    here = timings_here(trials)
    if here.empty or reference_configs.empty:
        return []
    reference = reference_parts(reference_configs)
    rows = joined(reference, here)
    lines = ["## Your machine", "", INTRO, "", f"**{here['hardware_here'].iloc[0]}**", ""]
    if rows.empty:
        if set(here["dataset_name"]) & set(reference_configs["dataset_name"]):
            return []
        return lines + [f"- {NO_REFERENCE}", "", here_table(reference, here).to_markdown(index=False), ""]
    budget = [f"- Within {_minutes(budget_s / 60, False)}: {within_budget(rows, budget_s)}"] if budget_s else []
    bound = twins_line(twins_table(reference_trials), where="the reference's details.md")
    return lines + [
        f"- Which CNN: {which_model_here(rows)}",
        *budget,
        f"- Which framework: {which_framework_here(here, reference_configs, set(rows['dataset']))}",
        f"- Which batch size: {which_batch_size_here(reference_trials, here)}",
        "",
        *([bound, ""] if bound else []),
        here_table(reference, here).to_markdown(index=False),
        "",
    ]


NO_REFERENCE = (
    "this run's data has no reference rows (they exist for the datasets the project trained on): accuracy needs "
    "your own converged trials, `python -m bench run --suite papers-cpu --resume` with your data options; the "
    "times below were measured here"
)

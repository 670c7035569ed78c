"""details.md: everything the leaderboard leaves out because it cannot answer: the smoke budgets' summary,
the Architectures rankings, every framework pair and batch sweep, the searches, shorter budgets of the papers'
parts, per-class results, failures, the fairness manifest, every configuration, and every plot."""

from __future__ import annotations

import pandas as pd

from bench.report.answers import hardware_order
from bench.report.evidence import untypical_timing
from bench.report.markdown import reported_lines, sections
from bench.report.pairs import framework_pair_values
from bench.report.search_report import searches_markdown
from bench.report.statistics import NO_ESTIMATE, WITHIN, accuracy_verdict_from_summary
from bench.report.tables import ARCHITECTURE_RECIPE, architectures_table, seconds_cell


def architectures_markdown(table: pd.DataFrame, order: list[str]) -> list[str]:
    """The Architectures section: one short ranking per hardware and budget, what is constant in its heading."""
    ranking = architectures_table(table)
    if ranking.empty:
        return []
    lines = [
        "## Architectures",
        "",
        f"Every model under the `{ARCHITECTURE_RECIPE}` recipe (Adam, cosine, crop + flip), one ranking across "
        "frameworks per hardware and budget, best test accuracy first; time to target counts training "
        "seconds until the validation accuracy first reaches it; † marks an epoch time measured under load "
        "(another trial, or other processes, using the machine's CPU). All columns: `tables/architectures.csv`.",
        "",
    ]
    keys = ["hardware", "dataset", "epochs", "train images", "test images", "batch", "variant"]
    groups = sorted(ranking.groupby(keys, sort=False), key=lambda item: (order.index(item[0][0]), item[0]))
    for (hardware, dataset, epochs, train, test, batch, variant), group in groups:
        lines += [
            f"### {hardware}: {dataset}, {epochs} epochs on {train:,} images, {test:,} test images, "
            f"batch {batch}, {variant}",
            "",
            group.drop(columns=keys).to_markdown(index=False),
            "",
        ]
    return lines


def summary_lines(table: pd.DataFrame) -> list[str]:
    """The headline answers, each with its n and spread.

    A "best accuracy" line needs a contest: two or more models on the same data, hardware, recipe and budget.
    Configurations that did not learn are never named (best, fastest to target, throughput).
    """
    lines = []
    pairs = framework_pair_values(table)
    table = table[table["learned"]]  # a model that did not learn wins nothing
    keys = ["dataset", "hardware", "recipe", "epochs", "train_size"]
    for (dataset, hardware, recipe, epochs, images), group in table.groupby(keys, sort=True):
        if group["model"].nunique() < 2:
            continue
        ranked = group.sort_values(["acc_mean", "model"], ascending=[False, True])
        best = ranked.iloc[0]
        runner_up = ranked[ranked["model"] != best["model"]].iloc[0]
        lines.append(
            f"- {dataset}, recipe `{recipe}`, {epochs} epochs on {int(images)} images, {hardware}: best "
            f"test accuracy {_headline(best)}; best other model {_headline(runner_up)} "
            f"({group['model'].nunique()} models){_lead(best, runner_up)}."
        )
    timed = table[~table["shared"]]  # times measured under load win nothing either
    for (hardware, target), group in timed.groupby(["hardware", "tta_target"], sort=True):
        reached = group[group["tta_reached"] == group["n"]]
        if not reached.empty:
            fastest = reached.sort_values(["tta_s", "model"]).iloc[0]
            lines.append(
                f"- Fastest to {100 * target:.0f} % validation accuracy on {hardware}: "
                f"**{fastest['model']}** ({fastest['framework']}, {fastest['variant']}, batch "
                f"{fastest['batch_size']}, recipe `{fastest['recipe']}`) in {seconds_cell(fastest['tta_s'])} s "
                f"of training (median over n={fastest['n']}; {len(reached)} of {len(group)} "
                f"configurations reached it in every seed)."
            )
    for hardware, group in timed.groupby("hardware", sort=True):
        fastest = group.sort_values("images_per_s", ascending=False).iloc[0]
        lines.append(
            f"- Highest training throughput on {hardware}: **{fastest['model']}** ({fastest['framework']}, "
            f"{fastest['variant']}, batch {fastest['batch_size']}, recipe `{fastest['recipe']}`) at "
            f"{fastest['images_per_s']:.0f} "
            f"images/s (median over n={fastest['n']}; its test accuracy {100 * fastest['acc_mean']:.1f} %)."
        )
    lines += _ratio_lines(pairs)
    return lines


def _ratio_lines(pairs: list[dict]) -> list[str]:
    """Per machine and Keras backend (never pooled), the median epoch-time ratio over quiet pairs, every budget;
    a backend not timed as its users run it is left out."""
    lines, groups = [], {}
    for pair in pairs:
        if not pair["timed_under_load"] and not untypical_timing(pair["framework"], pair["variant"], pair["device"]):
            groups.setdefault((pair["hardware"], pair["framework"]), []).append(pair["time_ratio"])
    for (hardware, framework), ratios in sorted(groups.items()):
        values = pd.Series(ratios, dtype=float)
        lines.append(
            f"- {framework} / torch epoch-time ratio on {hardware}, same model and settings, every budget: "
            f"median {values.median():.2f} (range {values.min():.2f}-{values.max():.2f}, n={len(values)} quiet pairs)."
        )
    return lines


def _lead(best, other) -> str:
    """The best model's lead over the next, with Welch's 95 % interval when both have 2+ seeds."""
    difference, half, verdict = accuracy_verdict_from_summary(best, other)
    if verdict == NO_ESTIMATE:
        return f"; lead {100 * difference:.2f} pt, no interval with a single seed"
    return (
        f"; lead {100 * difference:.2f} ± {100 * half:.2f} pt (95 % CI), "
        f"{'within' if verdict == WITHIN else 'beyond'} the seed noise"
    )


def _headline(row) -> str:
    spread = f" ± {100 * row['acc_std']:.2f}" if row["n"] > 1 else ""
    accuracy = f"{100 * row['acc_mean']:.2f}{spread} % (n={row['n']})"
    return f"**{row['model']}** ({row['framework']}, {row['variant']}) {accuracy}"


DETAILS_SECTIONS = (
    "Frameworks",
    "Batch size",
    "Inference at every budget",
    "Fast path vs naive loop",
    "Same trial on two machines",
    "Per class",
    "Failed trials",
    "Fairness manifest",
)


def details_markdown(configs: pd.DataFrame, named: dict[str, pd.DataFrame], plot_files: list[str]) -> str:
    """details.md: the smoke budgets' Summary and Architectures, the sections the leaderboard leaves out, every
    configuration (`leaderboard_table`), and the list of plots."""
    trials = named["trials"]
    lines = [
        "# cnnbench results: every budget",
        "",
        "Generated by `python -m bench report` from `raw/`; the answers are in [leaderboard.md](leaderboard.md). "
        "Most rows here are smoke budgets (a subset, or a few epochs): they show that a configuration runs and "
        "how fast, and answer nothing about which CNN or which batch size.",
        "",
    ]
    if not configs.empty:
        lines += ["## Summary", "", *summary_lines(configs), ""]
        lines += architectures_markdown(configs, hardware_order(trials))
    lines += searches_markdown(named, plot_files)
    lines += reported_lines(named, at_budget=False)
    lines += sections(named, *DETAILS_SECTIONS)
    lines += ["## Every configuration", "", EVERY_CONFIGURATION, ""]
    results = named.get("results", pd.DataFrame())
    lines += [results.to_markdown(index=False) if not results.empty else "No successful trials.", ""]
    if plot_files:
        lines += ["## Plots", "", *[f"- [{name}](plots/{name})" for name in plot_files], ""]
    lines += ["The tables are also in `tables/` as CSV and JSON; `tables/trials.csv` has one row per trial.", ""]
    return "\n".join(lines)


EVERY_CONFIGURATION = (
    "One row per model x framework x hardware x batch size x recipe x budget; accuracy is on the test set, "
    "scored once after the last epoch. A trial's epoch time is the median of its steady-state epochs (the "
    "first epoch, with warm-up and tracing, is shown apart); the table gives the median over seeds and their "
    "range; `*` marks a figure from a single epoch, warm-up included; † one measured under load: while another "
    "trial ran on the same machine (a shared node under Ray, or concurrent sweeps), or while other processes "
    "took a quarter of a core or more (psutil, per epoch)."
)

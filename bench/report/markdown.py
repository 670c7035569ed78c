"""The leaderboard as markdown: its first screen (answers and summary), one section per table, the plots
inline, the details page and the commands behind the results."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.frameworks import backend_environment, default_backend
from bench.report import plots, search_report
from bench.report.answers import answer_lines, hardware_order, widest_sweep
from bench.report.labels import hardware_label
from bench.report.statistics import NO_ESTIMATE, WITHIN, accuracy_verdict_from_summary
from bench.report.tables import (
    ARCHITECTURE_RECIPE,
    architecture_configs,
    architectures_table,
    framework_pair_values,
    seconds_cell,
)


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
            f"{fastest['variant']}, batch {fastest['batch_size']}) at {fastest['images_per_s']:.0f} "
            f"images/s (median over n={fastest['n']}; its test accuracy {100 * fastest['acc_mean']:.1f} %)."
        )
    values = pd.Series([p["time_ratio"] for p in pairs if not p["timed_under_load"]], dtype=float)
    if not values.empty:
        loaded = len(pairs) - len(values)
        lines.append(
            f"- Keras/PyTorch epoch-time ratio, same model and settings: median {values.median():.2f} "
            f"(range {values.min():.2f}-{values.max():.2f}, n={len(values)} pairs"
            + (f"; {loaded} timed under load left out" if loaded else "")
            + ")."
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


def _section(
    title: str, intro: str, table: pd.DataFrame, lift: tuple[str, ...] = (), drop_empty: bool = False
) -> list[str]:
    """A leaderboard section's lines, or none when its table is empty. Columns in `lift` are constant within
    each of its sub-tables and go into that sub-table's heading, so the tables stay narrow; with `drop_empty`
    a sub-table also leaves out the columns that are "-" in all its rows."""
    if table.empty:
        return []
    if not lift:
        return [f"## {title}", "", intro, "", table.to_markdown(index=False), ""]
    lines = [f"## {title}", "", intro, ""]
    for values, group in table.groupby(list(lift), sort=True):
        heading = ", ".join(
            str(value) if name in ("hardware", "variant", "dataset", "budget") else f"{name} {value}"
            for name, value in zip(lift, values)
        )
        group = group.drop(columns=list(lift))
        if drop_empty:
            group = group.loc[:, ~(group == "-").all()]
        lines += [f"### {heading}", "", group.to_markdown(index=False), ""]
    return lines


def searches_markdown(named: dict[str, pd.DataFrame], plot_files: list[str]) -> list[str]:
    """The Searches section: Optuna studies of `bench tune`, then learning-rate x batch-size grids."""
    studies, grid = named["searches"], named["grid"]
    if studies.empty and grid.empty:
        return []
    return ["## Searches", "", *_studies_markdown(studies, plot_files), *_grids_markdown(grid, plot_files)]


def _studies_markdown(studies: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The Optuna studies: how they search, the spaces, one row per study, and their plots."""
    if studies.empty:
        return []
    drawn = {search_report.plot_name(study, hardware) for study, hardware in zip(studies["study"], studies["hardware"])}
    return [
        "Optuna studies of `python -m bench tune`, one per framework: each candidate is a trial of its own, "
        "chosen by TPE (fixed seed) and stopped early by a median pruner on validation accuracy; the best "
        "candidate by validation accuracy is trained again in a final trial, the only one that sees the "
        "test set. Searched spaces:",
        "",
        *search_report.space_lines(),
        "",
        studies.drop(columns=["study"]).to_markdown(index=False),
        "",
        *[f"![{name.removesuffix('.png')}](plots/{name})" for name in plot_files if name in drawn],
        "",
    ]


GRID_KEYS = ["dataset", "hardware", "model", "framework", "variant", "recipe", "epochs", "train images", "test images"]


def _grids_markdown(grid: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The learning-rate x batch-size grids, one block (and heatmap) per model, framework and budget."""
    if grid.empty:
        return []
    lines = [
        "### Learning rate x batch size grids",
        "",
        "Test accuracy per learning rate (rows) and batch size (columns), as report r4's grid search; "
        "one block per model, framework and budget.",
        "",
    ]
    for values, block in grid.groupby(GRID_KEYS, sort=False):
        heading = (
            ", ".join(str(v) for v in values[:5]) + f", recipe {values[5]}, {values[6]} epochs on "
            f"{int(values[7]):,} images, {int(values[8]):,} test images"
        )
        table = block.drop(columns=GRID_KEYS).dropna(axis=1, how="all").loc[:, lambda b: (b != "-").any()]
        lines += [f"#### {heading}", "", table.to_markdown(index=False), ""]
        name = plots.grid_plot_name(*values)
        if name in plot_files:
            lines += [f"![{name.removesuffix('.png')}](plots/{name})", ""]
    return lines


HEADER = [
    "# cnnbench leaderboard",
    "",
    "Generated by `python -m bench report` from the raw results in `raw/`; do not edit by hand.",
    "",
]


NO_RESULTS = "\n".join(HEADER + ["No results yet: run `python -m bench run`.", ""])


def _inline_plots(configs: pd.DataFrame, trials: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The two plots of the first screen: accuracy against epoch time for the widest Architectures ranking,
    and the batch-size trade-off of the widest sweep (GPUs first), where they were drawn."""
    chosen = []
    common = architecture_configs(configs)
    if not common.empty:
        hardware, epochs, images = common.groupby(["hardware", "epochs", "train_size"]).size().idxmax()
        chosen.append(plots.pareto_name(hardware, epochs, images))
    for hardware in hardware_order(trials):
        sweep = widest_sweep(trials[trials["hardware"] == hardware])
        if sweep:
            model, _, _, recipe, epochs, images, _, _, _ = sweep[0]
            chosen.append(plots.batch_name(model, hardware, recipe, epochs, images))
            break
    return [f"![{name.removesuffix('.png')}](plots/{name})" for name in chosen if name in plot_files]


@dataclass(frozen=True)
class Section:
    """A leaderboard section made of one table: its title, what it shows, its table's name, and the columns
    lifted into sub-table headings (see _section)."""

    title: str
    intro: str
    table: str
    lift: tuple[str, ...] = ()
    drop_empty: bool = False  # leave out of a sub-table the columns it has nothing for ("-" in every row)


_SECTIONS = (
    Section(
        "Yardstick",
        "The fastest known CIFAR-10 trainer, airbench94, for every GPU row to be read "
        "against: the airbench package run as it runs itself (`python -m bench yardstick`: all "
        "50,000 training images, test-time augmentation, timed after a warm-up), and its network "
        "and hyperparameters in this harness (suite `yardstick`: 45,000 training images, no "
        "test-time augmentation, the deviations in recipe airbench94). Time to 94 %: the package's "
        "whole run; a harness trial's training time until 94 % validation accuracy, as measured "
        "(compilation in its first epoch) and steady (epochs to 94 % x its median epoch).",
        "yardstick",
        ("hardware",),
    ),
    Section(
        "Frameworks",
        "The same model, settings, data and budget in PyTorch and Keras: test "
        "accuracy difference with Welch's 95 % interval over seeds, and ratios of median epoch "
        "time and peak host memory († a ratio with a time measured under load, left out of the "
        "Answers' ratio).",
        "frameworks",
        ("hardware", "variant", "recipe", "epochs", "train images", "test images"),
    ),
    Section(
        "Batch size",
        "Time per epoch, throughput, peak memory and accuracy per batch size "
        "(report r0's table), per model, framework and hardware, with the first epoch's learning "
        "rate and the rule that set it (none: the recipe's rate at every batch size; linear, "
        'sqrt: scaled from the recipe\'s batch size). The largest batch that ran is marked "fits" '
        'only where a larger one ran out of memory, otherwise "largest tried". Where the report '
        "published its own batch-size table "
        "(r0, on its CPU) and the row uses the report's recipe, the report's figures stand beside "
        "ours; compare the shapes (time relative to the smallest batch), not the absolute "
        "times.",
        "batch_size",
        ("hardware", "recipe"),
    ),
    Section(
        "Fast path vs naive loop",
        "Median steady epoch time of the fast path (data on the device, "
        "batched augmentation, and the variant's precision, memory format and compilation) "
        "against the reports' loop (DataLoader over per-image transforms, float32, eager), "
        "same model, batch size and hardware.",
        "fast_vs_naive",
    ),
    Section(
        "Reported vs reproduced",
        "Each report's published figures (copied from the report, in "
        "the columns marked reported: accuracy, parameter count, epoch time on the report's "
        "hardware) beside ours for the same model and recipe, on our hardware. Rows at the paper's "
        "own budget (its recipe, batch size and epochs, or its early stop, on the whole training split) "
        "come first; their verdict: reproduced (within 3 points of the published accuracy) or not, and "
        "for a miss the reason a probe found: the same network under a recipe that changes one thing "
        "(`Recipe.probe_of`), same data and budget. Where the paper is silent the recipe's choices are in "
        "each result's `recipe.deviations`. A shorter budget is stated in the last column; its verdict, "
        '"budget short", says nothing about the paper\'s figure.',
        "reported_vs_reproduced",
        ("budget",),
        drop_empty=True,
    ),
    Section(
        "Inference",
        "The trained model served as users deploy it, on the device it trained on, by each framework's serving "
        "path (torch: `no_grad`, eager or `torch.compile`; Keras: `predict_on_batch`, with the trial's "
        "`jit_compile`): latency of one image per call (median and 99th percentile, after warm-up calls) and "
        "the images per second of the largest batch of 256, 64, 16, 4 that fits. Per model and training "
        "budget, the fastest framework at batch 1 and the one with the highest throughput, each with the test "
        "accuracy of the same trials; † marks a figure timed while other processes used the CPU.",
        "inference",
        ("hardware",),
    ),
    Section(
        "Framework parity at convergence",
        "The pairs of Frameworks trained at a paper's own budget: "
        "the claim that one network under one recipe gives the same accuracy in PyTorch and Keras, "
        "tested where it matters. Learning curves of both frameworks overlaid: the `curves-*` "
        "plots of each part.",
        "parity_at_convergence",
        ("hardware", "variant", "recipe", "epochs", "train images", "test images"),
    ),
    Section(
        "Per class",
        "Test accuracy per class (%) of each report's model, cat and dog first "
        "(the reports' hardest classes), over all its seeds, and its three most confused "
        "pairs (share of the true class).",
        "per_class",
    ),
    Section(
        "Fairness manifest",
        "Settings that change speed or numerics, as in force in each "
        "framework's trials. By default both sides run strict float32 (TF32 off), without "
        "compilation (torch eager, keras `jit_compile=False`), with the same thread counts. TF32 "
        "exists on NVIDIA GPUs only: `tf32_matmul True` on a CPU row (keras on torch before "
        "TF32 was switched off there too) changed no arithmetic.",
        "fairness_manifest",
    ),
    Section("Failed trials", "Recorded faults, never counted as accuracy 0.", "failed_trials"),
)
SECTIONS = {section.title: section for section in _SECTIONS}


def leaderboard_markdown(configs: pd.DataFrame, named: dict[str, pd.DataFrame], plot_files: list[str]) -> str:
    """The leaderboard's text: the first screen (Answers, Summary), then one section per table."""
    trials = named["trials"]
    if trials.empty:
        return "\n".join([*HEADER, *searches_markdown(named, plot_files), *_environment(named)])
    lines = list(HEADER)
    if not configs.empty:
        lines += _first_screen(configs, trials, plot_files)
    lines += architectures_markdown(configs, hardware_order(trials))
    lines += _sections(named, "Yardstick", "Frameworks", "Inference", "Batch size")
    lines += searches_markdown(named, plot_files)
    lines += _sections(
        named, "Fast path vs naive loop", "Reported vs reproduced", "Framework parity at convergence", "Per class"
    )
    lines += ["## Results", "", RESULTS_LINK, ""]
    lines += _sections(named, "Failed trials", "Fairness manifest")
    lines += _environment(named)
    if plot_files:
        lines += ["## Plots", "", *[f"- [{name}](plots/{name})" for name in plot_files], ""]
    lines += ["The tables are also in `tables/` as CSV and JSON; `tables/trials.csv` has one row per trial.", ""]
    return "\n".join(lines)


RESULTS_LINK = "Every configuration, one row each, is in [details.md](details.md) (and `tables/results.csv`)."


def _first_screen(configs: pd.DataFrame, trials: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The Answers (per machine, with their plots) and the Summary."""
    return [
        "## Answers",
        "",
        "Which CNN, which framework, which batch size, per machine (#fingerprint), the newest run's first. "
        "Each answer names its budget: a short one ranks models at that budget only.",
        "",
        *answer_lines(configs, trials, framework_pair_values(configs)),
        *_inline_plots(configs, trials, plot_files),
        "",
        "## Summary",
        "",
        *summary_lines(configs),
        "",
    ]


def _sections(named: dict[str, pd.DataFrame], *titles: str) -> list[str]:
    """The sections of these titles (see SECTIONS), each from its table; none where its table is empty."""
    lines = []
    for title in titles:
        section = SECTIONS[title]
        lines += _section(section.title, section.intro, named[section.table], section.lift, section.drop_empty)
    return lines


def _environment(named: dict[str, pd.DataFrame]) -> list[str]:
    return ["## Environment", "", named["environment"].to_markdown(index=False), ""]


def render_details(table: pd.DataFrame) -> str:
    """details.md: the Results table (`leaderboard_table`), every configuration, too wide for the leaderboard."""
    return "\n".join(
        [
            "# cnnbench results: every configuration",
            "",
            "Generated by `python -m bench report` from `raw/`; the summary is in [leaderboard.md](leaderboard.md).",
            "",
            "One row per model x framework x hardware x batch size x recipe x budget; accuracy is on the test set, "
            "scored once after the last epoch. A trial's epoch time is the median of its steady-state epochs (the "
            "first epoch, with warm-up and tracing, is shown apart); the table gives the median over seeds and their "
            "range; `*` marks a figure from a single epoch, warm-up included; † one measured under load: while another "
            "trial ran on the same machine (a shared node under Ray, or concurrent sweeps), or while other processes "
            "took a quarter of a core or more (psutil, per epoch).",
            "",
            table.to_markdown(index=False) if not table.empty else "No successful trials.",
            "",
        ]
    )


def commands_readme(records: list[dict]) -> str:
    """results/README.md: the exact commands that produced these results, with what each ran and where."""
    runs: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.get("started_at") or ""):
        command = (record.get("provenance") or {}).get("command") or "(not recorded)"
        config = record["config"]
        if config.get("backend") and config["backend"] != default_backend(config["framework"], config["device"]):
            variables = backend_environment(config["framework"], config["backend"])
            command = " ".join(f"{name}={value}" for name, value in variables.items()) + f" {command}"
        run = runs.setdefault(command, {"trials": 0, "hardware": set(), "commits": set(), "first": None})
        run["trials"] += 1
        run["hardware"].add(hardware_label(record))
        run["commits"].add(((record.get("provenance") or {}).get("git") or {}).get("commit", "")[:10] or "-")
        run["first"] = run["first"] or (record.get("started_at") or "")[:10]
    lines = [
        "# How these results were made",
        "",
        "Generated by `python -m bench report` from `raw/`; do not edit by hand. Every command that wrote a "
        "result here, as it was typed (paths relative to the project), in the order the runs started, with "
        "how many result files it left, on which hardware and at which commit. Files imported with "
        "`python -m bench import` keep the command of the machine that ran them.",
        "",
    ]
    for command, run in runs.items():
        lines += [
            f"- {run['first']}, {run['trials']} result file{'s' if run['trials'] > 1 else ''}, "
            f"{'; '.join(sorted(run['hardware']))}, commit {', '.join(sorted(run['commits']))}:",
            "",
            f"  ```bash\n  {command}\n  ```",
            "",
        ]
    return "\n".join(lines)

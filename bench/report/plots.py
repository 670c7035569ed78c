"""Leaderboard plots (matplotlib, PNG) drawn from the trial table and raw results alone.

Learning curves, confusion matrices of the papers' models, accuracy against epoch time with
the Pareto front marked, and batch-size trade-offs. Files carry no timestamp, so the same
results give the same images.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bench.report.labels import framework_label, variant_label  # noqa: E402

PNG_METADATA = {"Software": None}  # no matplotlib version stamp: reproducible bytes


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def save(figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100, metadata=PNG_METADATA)
    plt.close(figure)
    return path


def curves_name(model: str, recipe: str, epochs: int, images: int) -> str:
    """The file name of a model's learning curves under one recipe and budget, every framework overlaid."""
    return f"curves-{slug(model)}-{slug(recipe)}-{epochs}ep-{images}img.png"


def learning_curves(records: list[dict], directory: Path) -> list[Path]:
    """Train and validation accuracy per epoch, one figure per model, recipe and budget.

    A line pair per framework and batch size: the mean over seeds, the validation range over seeds shaded.
    """
    figures: dict[tuple, dict[tuple, list[dict]]] = {}
    for record in records:
        if record["status"] == "ok" and record["epochs"]:
            config = record["config"]
            figure_key = (config["model"], config["recipe"], config["epochs"], record["dataset"]["train_size"])
            line_key = (framework_label(record), config["batch_size"], variant_label(config))
            figures.setdefault(figure_key, {}).setdefault(line_key, []).append(record)
    paths = []
    for (model, recipe, epochs, images), lines in sorted(figures.items()):
        figure, axis = plt.subplots(figsize=(7, 4.5))
        for (framework, batch, variant), runs in sorted(lines.items()):
            length = min(len(r["epochs"]) for r in runs)  # early stopping may end seeds at different epochs
            x = np.arange(1, length + 1)
            train = np.array([[100 * e["train_accuracy"] for e in r["epochs"][:length]] for r in runs])
            marker = "o" if length < 6 else None  # a curve of one or a few epochs shows as points
            (line,) = axis.plot(x, train.mean(axis=0), "--", marker=marker, alpha=0.6)
            if all("val_accuracy" in e for r in runs for e in r["epochs"][:length]):
                val = np.array([[100 * e["val_accuracy"] for e in r["epochs"][:length]] for r in runs])
                axis.plot(
                    x,
                    val.mean(axis=0),
                    "-",
                    marker=marker,
                    color=line.get_color(),
                    label=f"{framework}, {variant}, batch {batch} (n={len(runs)})",
                )
                if len(runs) > 1:
                    axis.fill_between(x, val.min(axis=0), val.max(axis=0), color=line.get_color(), alpha=0.15)
        axis.set(
            title=f"{model}, recipe {recipe}, {images} training images: accuracy per epoch\n"
            "solid: validation (mean, range over seeds shaded), dashed: training (mean)",
            xlabel="epoch",
            ylabel="accuracy (%)",
        )
        axis.title.set_fontsize(9)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
        paths.append(save(figure, directory / curves_name(model, recipe, epochs, images)))
    return paths


def confusion_matrices(records: list[dict], directory: Path) -> list[Path]:
    """Test-set confusion matrix (row-normalised, summed over seeds) per model and framework of `records` (the
    leaderboard passes the trials that stand beside the papers' figures)."""
    sums: dict[tuple, tuple[np.ndarray, list[str]]] = {}
    for record in records:
        key = (record["config"]["model"], framework_label(record), record["dataset"]["label"])
        matrix = np.array(record["test"]["confusion_matrix"])
        previous = sums.get(key, (0, record["dataset"]["class_names"]))[0]
        sums[key] = (previous + matrix, record["dataset"]["class_names"])
    paths = []
    for (model, framework, dataset), (matrix, names) in sorted(sums.items()):
        if len(names) > 20:
            continue  # 100 classes do not make a readable picture; the CSV has them
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        figure, axis = plt.subplots(figsize=(6.5, 5.5))
        image = axis.imshow(100 * rates, cmap="Blues", vmin=0, vmax=100)
        axis.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        axis.set_yticks(range(len(names)), names, fontsize=7)
        axis.set(
            title=f"{model} ({framework}): test confusion, % of each true class", xlabel="predicted", ylabel="true"
        )
        figure.colorbar(image, ax=axis, label="% of the true class")
        paths.append(save(figure, directory / f"confusion-{slug(model)}-{slug(framework)}-{slug(dataset)}.png"))
    return paths


def pareto_name(hardware: str, epochs: int, images: int) -> str:
    return f"pareto-{slug(hardware)}-{epochs}ep-{int(images)}img.png"


def batch_name(model: str, hardware: str, recipe: str, epochs: int, images: int) -> str:
    return f"batch-{slug(model)}-{slug(hardware)}-{slug(recipe)}-{epochs}ep-{int(images)}img.png"


def pareto_front(points: pd.DataFrame) -> list:
    """Index labels of the configurations no other one beats on both epoch time and accuracy, fastest first."""
    front, best = [], float("-inf")
    for index, row in points.sort_values(["epoch_s", "acc_mean"], ascending=[True, False]).iterrows():
        if row["acc_mean"] > best:
            front.append(index)
            best = row["acc_mean"]
    return front


def pareto(table: pd.DataFrame, directory: Path) -> list[Path]:
    """Test accuracy against median epoch time, one figure per hardware and budget; the Pareto front marked.

    `table` holds comparable configurations (the Architectures section's: one recipe, one budget).
    Configurations that did not learn are drawn as crosses and never sit on the front.
    """
    paths = []
    for (hardware, epochs, images), group in table.groupby(["hardware", "epochs", "train_size"], sort=True):
        points = group.sort_values(["epoch_s", "acc_mean"], ascending=[True, False])
        figure, axis = plt.subplots(figsize=(8, 5))
        _scatter_by_framework(axis, points)
        _draw_front(axis, points, pareto_front(points[points["learned"]]))
        axis.set_xscale("log")
        axis.set(
            title=f"Accuracy vs epoch time, {epochs} epochs on {int(images)} images, {hardware}\n"
            "marker and colour: framework; labelled: the Pareto front",
            xlabel="median epoch time (s, log scale)",
            ylabel="test accuracy (%, mean over seeds)",
        )
        axis.legend(fontsize=7)
        paths.append(save(figure, directory / pareto_name(hardware, epochs, images)))
    return paths


def _scatter_by_framework(axis, points: pd.DataFrame) -> None:
    """Each framework's configurations that learned, a marker and colour each; those that did not, grey crosses."""
    frameworks = sorted(points["framework"].unique())
    for framework, marker, colour in zip(frameworks, "osD^v", plt.get_cmap("tab10").colors):
        mine = points[(points["framework"] == framework) & points["learned"]]
        axis.scatter(mine["epoch_s"], 100 * mine["acc_mean"], s=28, marker=marker, color=colour, label=framework)
    failed = points[~points["learned"]]
    if not failed.empty:
        label = "did not learn (within 2 pt of chance)"
        axis.scatter(failed["epoch_s"], 100 * failed["acc_mean"], s=22, marker="x", color="lightgrey", label=label)


def _draw_front(axis, points: pd.DataFrame, front: list) -> None:
    """The Pareto front as a line through circled points, each labelled alternately above and below its line,
    so that labels do not collide (only the front is labelled)."""
    axis.plot(
        points.loc[front, "epoch_s"],
        100 * points.loc[front, "acc_mean"],
        "-",
        color="black",
        marker="o",
        markerfacecolor="none",
        markersize=11,
        label="Pareto front",
    )
    for rank, index in enumerate(front):
        row = points.loc[index]
        axis.annotate(
            f"{row['model']} ({row['framework']})",
            (row["epoch_s"], 100 * row["acc_mean"]),
            fontsize=7,
            xytext=(4, 6 if rank % 2 == 0 else -10),
            textcoords="offset points",
        )


def batch_sizes(trials: pd.DataFrame, directory: Path) -> list[Path]:
    """Throughput and accuracy against batch size, per model, hardware, recipe and budget, a line per framework."""
    ok = trials[trials["status"] == "ok"]
    paths = []
    keys = ["model", "hardware", "recipe", "epochs", "train_size"]
    for (model, hardware, recipe, epochs, images), group in ok.groupby(keys, sort=True):
        if group["batch_size"].nunique() < 2:
            continue
        figure, (speed, accuracy) = plt.subplots(1, 2, figsize=(9, 3.8))
        for framework, runs in group.groupby("framework", sort=True):
            summary = runs.groupby("batch_size").agg(ips=("images_per_s", "median"), acc=("test_accuracy", "mean"))
            speed.plot(summary.index, summary["ips"], "o-", label=framework)
            accuracy.plot(summary.index, 100 * summary["acc"], "o-", label=framework)
        for axis, label in ((speed, "training images/s"), (accuracy, "test accuracy (%)")):
            axis.set_xscale("log", base=2)
            axis.set(xlabel="batch size", ylabel=label)
            axis.legend(fontsize=7)
        figure.suptitle(
            f"{model} on {hardware}, recipe {recipe}, {epochs} epochs on {int(images)} images: batch-size trade-off",
            fontsize=9,
        )
        paths.append(save(figure, directory / batch_name(model, hardware, recipe, epochs, images)))
    return paths


def grid_plot_name(dataset, hardware, model, framework, variant, recipe, epochs, train, test) -> str:
    return (
        f"grid-{slug(model)}-{slug(framework)}-{slug(hardware)}-{slug(recipe)}-{slug(variant)}-{epochs}ep-"
        f"{int(train)}img-{int(test)}test-{slug(dataset)}.png"
    )


def grids(grouped, directory: Path) -> list[Path]:
    """A heatmap of mean test accuracy by learning rate x batch size per grid (r4's search), one per framework;
    `grouped`: the grid configurations grouped by (dataset, hardware, model, framework, variant, recipe,
    epochs, train size, test size)."""
    paths = []
    for key, group in grouped:
        table = (
            group.assign(rate=group["lr"].astype(float))
            .pivot_table(index="rate", columns="batch_size", values="acc_mean", aggfunc="first")
            .sort_index()
        )
        figure, axis = plt.subplots(figsize=(1.4 * len(table.columns) + 2.5, 0.6 * len(table) + 2))
        image = axis.imshow(100 * table.to_numpy(), cmap="viridis", aspect="auto")
        for (row, column), value in np.ndenumerate(table.to_numpy()):
            if not np.isnan(value):
                axis.text(column, row, f"{100 * value:.1f}", ha="center", va="center", color="white")
        axis.set_xticks(range(len(table.columns)), [str(b) for b in table.columns])
        axis.set_yticks(range(len(table)), [f"{r:g}" for r in table.index])
        dataset, hardware, model, framework, variant, recipe, epochs, train, test = key
        axis.set(
            xlabel="batch size",
            ylabel="learning rate",
            title=f"{model} {framework}: test accuracy %\n{hardware}, {epochs} epochs on {int(train)} images",
        )
        axis.title.set_fontsize(9)
        figure.colorbar(image, ax=axis)
        paths.append(save(figure, directory / grid_plot_name(*key)))
    return paths

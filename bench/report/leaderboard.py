"""Derived tables: results/leaderboard.md from the raw JSON alone, with pandas + tabulate.

Nothing here measures anything; running it twice on the same raw files gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.report import plots, search_report
from bench.results import store
from bench.run import yardstick
from bench.spec import registry
from bench.frameworks import DEFAULT_KERAS_BACKEND
from bench.report.answers import DID_NOT_LEARN_MARGIN, RECIPE_LR, answer_lines, hardware_order, widest_sweep
from bench.errors import BenchError
from bench.report.labels import framework_label, hardware_label, variant_label
from bench.spec.recipes import get_recipe
from bench.spec.suites import YARDSTICK_MODELS
from bench.report.statistics import NO_ESTIMATE, WITHIN, accuracy_verdict_from_summary, confidence_95

GROUP_KEYS = ["dataset", "hardware", "model", "framework", "variant", "batch_size", "lr", "recipe", "epochs",
              "train_size", "test_size"]


def _megabytes(value) -> float | None:
    return value / 2**20 if value else None


def trial_frame(records: list[dict]) -> pd.DataFrame:
    """One row per trial with the fields tables are made from."""
    headline_files = {record["_file"] for record in report_records(records)}
    # A failed trial has no dataset block: it takes the one of a successful trial of the same data and split.
    split_key = lambda config: (config["dataset"], config.get("val_size"), config.get("train_subset"),  # noqa: E731
                                config.get("test_subset"))
    datasets = {split_key(r["config"]): r["dataset"] for r in records if r["status"] == "ok"}
    rows = []
    for record in records:
        config = record["config"]
        ok = record["status"] == "ok"
        timing = record.get("timing") or {}
        dataset = record["dataset"] if ok else datasets.get(split_key(config), {})
        rows.append({
            "dataset": dataset.get("label", config["dataset"]),
            "hardware": hardware_label(record),
            "device": config["device"],
            "model": config["model"],
            "framework": framework_label(record),
            "variant": variant_label(config),
            "batch_size": config["batch_size"],
            "lr": f"{config['learning_rate']:g}" if config.get("learning_rate") else RECIPE_LR,
            "recipe": config["recipe"],
            "epochs": config["epochs"],
            "train_size": dataset.get("train_size", config.get("train_subset")),
            "seed": config["seed"],
            "status": record["status"],
            "error": record.get("error"),
            "test_accuracy": record["test"]["accuracy"] if ok else None,
            "chance": 1 / record["dataset"]["num_classes"] if ok else None,
            "trial_id": record["trial_id"],
            "epoch_s": timing.get("epoch_median_s"),
            "first_epoch_s": timing.get("first_epoch_s"),
            "warmup_in_epoch_time": ok and timing.get("steady_epochs") == 0,
            "timing_shared": (record.get("machine") or {}).get("other_trials_max", 0) > 0,
            "images_per_s": timing.get("train_images_per_s"),
            "peak_rss_mb": (record.get("memory") or {}).get("peak_rss_bytes", 0) / 2**20 if ok else None,
            "peak_device_mb": _megabytes((record.get("memory") or {}).get("peak_device_bytes")),
            "tta_s": (record.get("time_to_accuracy") or {}).get("train_seconds"),
            "tta_target": (record.get("time_to_accuracy") or {}).get("target"),
            "params": (record["model"]["params_trainable"] + record["model"]["params_non_trainable"]) if ok else None,
            "mflops": record["model"]["forward_flops_per_image"] / 1e6 if ok else None,
            "lr_rule": config.get("lr_scaling", "none"),
            "first_lr": record["epochs"][0]["learning_rate"] if ok and record["epochs"] else None,
            "report": (record.get("recipe") or {}).get("report"),
            "headline": record["_file"] in headline_files,
            "budget_note": (record.get("budget") or {}).get("note", ""),
            "matches_report": (record.get("budget") or {}).get("matches_report"),
            "test_size": dataset.get("test_size"),
            "file": record["_file"],
        })
    return pd.DataFrame(rows)




def configurations(trials: pd.DataFrame) -> pd.DataFrame:
    """Successful trials grouped by configuration: accuracy mean and std over seeds, median timings.

    A repeat of a trial (the same identity run again on the same hardware) is no new evidence about accuracy: it counts
    once there (`repeats` says how many were merged); timing pools every run. A configuration whose
    mean test accuracy is within 2 points of chance did not learn (`learned` False).
    """
    ok = trials[trials["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame()
    repeat = ok.duplicated(["hardware", "trial_id"])  # the same trial on another machine is no repeat
    ok["repeat"] = repeat
    ok["test_accuracy"] = ok["test_accuracy"].where(~repeat)
    grouped = ok.groupby(GROUP_KEYS, dropna=False, sort=True)
    table = grouped.agg(
        n=("test_accuracy", "count"),
        repeats=("repeat", "sum"),
        chance=("chance", "first"),
        acc_mean=("test_accuracy", "mean"),
        acc_std=("test_accuracy", "std"),
        epoch_s=("epoch_s", "median"),
        epoch_s_min=("epoch_s", "min"),
        epoch_s_max=("epoch_s", "max"),
        first_epoch_s=("first_epoch_s", "median"),
        warmup=("warmup_in_epoch_time", "any"),
        shared=("timing_shared", "any"),
        images_per_s=("images_per_s", "median"),
        params=("params", "first"),
        mflops=("mflops", "first"),
        tta_s=("tta_s", "median"),
        tta_reached=("tta_s", "count"),
        tta_target=("tta_target", "first"),
        peak_rss_mb=("peak_rss_mb", "max"),
    ).reset_index()
    table["learned"] = table["acc_mean"] > table["chance"] + DID_NOT_LEARN_MARGIN
    return table.sort_values(["dataset", "hardware", "model", "framework", "variant", "batch_size"])


EPOCH_COLUMN = "epoch s (median, range over seeds)"
SHARED = "†"  # marks an epoch time measured while another trial ran on the same machine
DID_NOT_LEARN = "did not learn"


def accuracy_cell(mean: float, std: float, n: int, repeats: int = 0, learned: bool = True) -> str:
    """'71.20 ± 0.85 (n=3)', with the repeats merged into n and a did-not-learn mark where it applies."""
    cell = f"{100 * mean:.2f} ± {100 * std:.2f} (n={n}" if n > 1 else f"{100 * mean:.2f} (n=1"
    cell += f", {repeats} repeat{'s' if repeats > 1 else ''} merged)" if repeats else ")"
    return _marked(cell, learned)


def _marked(cell: str, learned: bool) -> str:
    return cell if learned else f"{cell}, {DID_NOT_LEARN}"


def _learned(runs: pd.DataFrame) -> bool:
    """Whether successful trials of one configuration learned: mean test accuracy beyond chance + 2 points."""
    return bool(runs["test_accuracy"].mean() > runs["chance"].iloc[0] + DID_NOT_LEARN_MARGIN)


def formatted_columns(table: pd.DataFrame) -> dict[str, list]:
    """The measured figures of configurations as table cells, shared by the Results and Architectures sections."""
    return {
        "test acc % (mean ± std, n)": [accuracy_cell(m, s, n, r, learned) for m, s, n, r, learned in
                                       zip(table["acc_mean"], table["acc_std"].fillna(0), table["n"], table["repeats"],
                                           table["learned"])],
        "95% CI (pt)": [f"± {100 * confidence_95(s, n):.2f}" if n > 1 else "-"
                        for s, n in zip(table["acc_std"].fillna(0), table["n"])],
        EPOCH_COLUMN: [f"{e:.1f}{'*' if w else ''}{SHARED if shared else ''}"
                       + (f" ({lo:.1f}-{hi:.1f})" if n > 1 else "")
                       for e, w, shared, lo, hi, n in zip(table["epoch_s"], table["warmup"], table["shared"],
                                                          table["epoch_s_min"], table["epoch_s_max"], table["n"])],
        "first epoch s": [f"{v:.1f}" for v in table["first_epoch_s"]],
        "train img/s": [f"{v:.0f}" for v in table["images_per_s"]],
        "params": [f"{int(p):,}" for p in table["params"]],
        "MFLOPs/image": [f"{v:.1f}" for v in table["mflops"]],
        "time to val target": [_time_to_target(t, r, n, g) for t, r, n, g in
                               zip(table["tta_s"], table["tta_reached"], table["n"], table["tta_target"])],
        "peak RSS MB": [f"{v:.0f}" for v in table["peak_rss_mb"]],
    }


RESULTS_COLUMNS = ["test acc % (mean ± std, n)", "95% CI (pt)", EPOCH_COLUMN, "first epoch s", "train img/s",
                   "params", "time to val target"]
ARCHITECTURE_COLUMNS = ["test acc % (mean ± std, n)", "params", "MFLOPs/image", EPOCH_COLUMN, "train img/s",
                        "time to val target", "peak RSS MB"]


def leaderboard_table(table: pd.DataFrame) -> pd.DataFrame:
    """The configurations, formatted for the Results section."""
    if table.empty:
        return table
    cells = formatted_columns(table)
    return pd.DataFrame({
        "model": table["model"], "framework": table["framework"], "variant": table["variant"],
        "hardware": table["hardware"], "batch": table["batch_size"], "lr": table["lr"],
        **{name: cells[name] for name in RESULTS_COLUMNS},
        "epochs": table["epochs"], "train images": table["train_size"].astype(int),
        "test images": table["test_size"].astype(int), "recipe": table["recipe"],
        "dataset": table["dataset"],
    })


ARCHITECTURE_RECIPE = "common"  # the one recipe every model is trained with, to compare architectures


def _architecture_configs(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["recipe"] == ARCHITECTURE_RECIPE] if not table.empty else table


ARCHITECTURE_KEYS = ["hardware", "dataset", "epochs", "train_size", "test_size", "batch_size", "variant"]


def architectures_table(table: pd.DataFrame) -> pd.DataFrame:
    """Every model under the common recipe: one ranking across frameworks per hardware, budget, batch size
    and variant, best first (the CSV/JSON table; the leaderboard prints one section per ranking)."""
    common = _architecture_configs(table)
    if common.empty:
        return pd.DataFrame()
    order = common.sort_values(ARCHITECTURE_KEYS + ["acc_mean", "model"],
                               ascending=[True] * len(ARCHITECTURE_KEYS) + [False, True])
    cells = formatted_columns(order)
    return pd.DataFrame({
        "model": order["model"], "framework": order["framework"],
        **{name: cells[name] for name in ARCHITECTURE_COLUMNS},
        "hardware": order["hardware"], "dataset": order["dataset"], "epochs": order["epochs"],
        "train images": order["train_size"].astype(int), "test images": order["test_size"].astype(int),
        "batch": order["batch_size"], "variant": order["variant"],
    })


def architectures_markdown(table: pd.DataFrame, order: list[str]) -> list[str]:
    """The Architectures section: one short ranking per hardware and budget, what is constant in its heading."""
    ranking = architectures_table(table)
    if ranking.empty:
        return []
    lines = ["## Architectures", "",
             f"Every model under the `{ARCHITECTURE_RECIPE}` recipe (Adam, cosine, crop + flip), one ranking across "
             "frameworks per hardware and budget, best test accuracy first; time to target counts training "
             "seconds until the validation accuracy first reaches it; † marks an epoch time measured while another "
             "trial ran on the same machine. All columns: `tables/architectures.csv`.", ""]
    keys = ["hardware", "dataset", "epochs", "train images", "test images", "batch", "variant"]
    groups = sorted(ranking.groupby(keys, sort=False), key=lambda item: (order.index(item[0][0]), item[0]))
    for (hardware, dataset, epochs, train, test, batch, variant), group in groups:
        lines += [f"### {hardware}: {dataset}, {epochs} epochs on {train:,} images, {test:,} test images, "
                  f"batch {batch}, {variant}", "",
                  group.drop(columns=keys).to_markdown(index=False), ""]
    return lines


def _time_to_target(seconds, reached: int, n: int, target) -> str:
    if target is None or pd.isna(target):
        return "-"
    if not reached:
        return f"not reached ({100 * target:.0f}%)"
    return f"{_seconds(seconds)} s to {100 * target:.0f}% ({reached}/{n})"


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def batch_size_table(trials: pd.DataFrame) -> pd.DataFrame:
    """r0's trade-off table for every model x framework x hardware run at two or more batch sizes."""
    keys = ["model", "framework", "hardware", "dataset", "recipe", "epochs", "train_size", "lr", "variant"]
    rows = []
    for key, group in trials.groupby(keys, dropna=False, sort=True):
        if group["batch_size"].nunique() < 2:
            continue
        ok_runs = group[group["status"] == "ok"]
        fits = ok_runs["batch_size"]
        largest = fits.max() if not fits.empty else None
        out_of_memory = group[group["status"] == "oom"]["batch_size"]
        limit = "fits (a larger batch ran out of memory)" if (out_of_memory > (largest or 0)).any() else "largest tried"
        smallest_s = ok_runs[fits == fits.min()]["epoch_s"].median() if not fits.empty else None
        reported = published(key[0]).get("batch_sizes", {}) if _is_reports_recipe(key[0], key[4]) else {}
        smallest_reported = reported[min(reported)][0] if reported else None
        for batch, runs in group.groupby("batch_size", sort=True):
            ok = runs[runs["status"] == "ok"]
            rows.append({
                "model": key[0], "framework": key[1], "hardware": key[2], "recipe": key[4], "batch": batch,
                "status": "ok" if len(ok) == len(runs) else ", ".join(sorted(set(runs["status"]))),
                "epoch s": f"{ok['epoch_s'].median():.1f}" if not ok.empty else "-",
                "img/s": f"{ok['images_per_s'].median():.0f}" if not ok.empty else "-",
                "peak RSS MB": f"{ok['peak_rss_mb'].max():.0f}" if not ok.empty else "-",
                "peak device MB": f"{ok['peak_device_mb'].max():.0f}" if ok["peak_device_mb"].notna().any() else "-",
                "test acc %": _marked(f"{100 * ok['test_accuracy'].mean():.2f} (n={len(ok)})", _learned(ok))
                              if not ok.empty else "-",
                "epoch time ÷ smallest batch's": f"{ok['epoch_s'].median() / smallest_s:.2f}" if not ok.empty else "-",
                "reported: min/epoch (÷ smallest), test acc": (
                    f"{reported[batch][0]} ({reported[batch][0] / smallest_reported:.2f}), "
                    f"{100 * reported[batch][1]:.0f} %" if batch in reported else "-"),
                "lr (epoch 1), rule": f"{ok['first_lr'].iloc[0]:.3g}, {runs['lr_rule'].iloc[0]}" if not ok.empty else
                                      f"-, {runs['lr_rule'].iloc[0]}",
                "test images": int(ok["test_size"].iloc[0]) if not ok.empty else "-",
                "largest": limit if batch == largest else "",
            })
    return pd.DataFrame(rows)


GRID_KEYS = ["dataset", "hardware", "model", "framework", "variant", "recipe", "epochs", "train_size", "test_size"]


def grid_configs(table: pd.DataFrame) -> pd.DataFrame:
    """Configurations of learning-rate x batch-size grids (r4's search): explicit learning rates, at least two
    of them and two batch sizes within one model, framework, hardware and budget."""
    if table.empty:
        return table
    explicit = table[table["lr"] != RECIPE_LR]
    sizes = explicit.groupby(GRID_KEYS)[["lr", "batch_size"]].transform("nunique")
    return explicit[(sizes["lr"] > 1) & (sizes["batch_size"] > 1)]


def grid_groups(table: pd.DataFrame):
    """Each grid's configurations, keyed by GRID_KEYS, in order."""
    return grid_configs(table).groupby(GRID_KEYS, sort=True)


def grid_table(table: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per learning rate (rows) x batch size (columns), one block per grid."""
    grids = grid_configs(table)
    if grids.empty:
        return pd.DataFrame()
    rows = []
    for key, group in grids.groupby(GRID_KEYS, sort=True):
        for rate, line in group.groupby("lr", sort=False):
            row = dict(zip(GRID_KEYS, key), lr=rate)
            for _, cell in line.iterrows():
                row[f"batch {cell['batch_size']}"] = accuracy_cell(cell["acc_mean"], 0 if pd.isna(cell["acc_std"])
                                                                   else cell["acc_std"], cell["n"], cell["repeats"],
                                                                   cell["learned"])
            rows.append(row)
    frame = pd.DataFrame(rows).fillna("-")
    frame["lr"] = frame["lr"].astype(float)
    frame = frame.sort_values(GRID_KEYS + ["lr"])
    frame["lr"] = frame["lr"].map("{:g}".format)
    batches = sorted((c for c in frame.columns if c.startswith("batch ")), key=lambda c: int(c.split()[1]))
    frame = frame[GRID_KEYS + ["lr"] + batches]
    return frame.rename(columns={"train_size": "train images", "test_size": "test images"})


def speedup_table(trials: pd.DataFrame) -> pd.DataFrame:
    """The fast path against the naive loop: same model, framework, hardware and batch size."""
    ok = trials[trials["status"] == "ok"]
    rows = []
    for (model, framework, hardware, batch), group in ok.groupby(["model", "framework", "hardware", "batch_size"]):
        naive = group[group["variant"] == "naive"]
        for variant, fast in group[group["variant"].str.startswith("fast")].groupby("variant"):
            if naive.empty:
                continue
            naive_s, fast_s = naive["epoch_s"].median(), fast["epoch_s"].median()
            tested = sorted({int(size) for size in pd.concat([fast, naive])["test_size"]})
            rows.append({"model": model, "framework": framework, "hardware": hardware, "batch": batch,
                         "fast variant": variant, "fast epoch s": f"{fast_s:.2f}", "naive epoch s": f"{naive_s:.2f}",
                         "test images": ", ".join(f"{size:,}" for size in tested),
                         "speed-up": f"{naive_s / fast_s:.1f}x"})
    return pd.DataFrame(rows)


def failure_table(trials: pd.DataFrame) -> pd.DataFrame:
    failed = trials[trials["status"] != "ok"].sort_values("file")
    return failed[["model", "framework", "hardware", "batch_size", "seed", "status", "error"]]


MANIFEST_FIELDS = ["compile", "precision", "tf32_matmul", "cudnn_benchmark", "memory_format",
                   "threads_intra_op", "threads_inter_op"]


def manifest_table(records: list[dict]) -> pd.DataFrame:
    """The speed- and numerics-relevant settings in force behind the rows, per framework and hardware."""
    rows = []
    for record in records:
        if record["status"] == "ok":
            settings = record.get("settings") or {}
            rows.append({"framework": framework_label(record), "hardware": hardware_label(record),
                         **{f: str(settings.get(f, "-")) for f in MANIFEST_FIELDS}})
    return pd.DataFrame(rows).drop_duplicates().sort_values(["hardware", "framework"]) if rows else pd.DataFrame()


def environment_table(records: list[dict]) -> pd.DataFrame:
    """The machines and versions behind the rows."""
    rows = []
    for record in records:
        provenance = record.get("provenance") or {}
        packages = provenance.get("packages") or {}
        rows.append({"hardware": hardware_label(record), "python": provenance.get("python"),
                     **{name: packages.get(name) or "-" for name in ("torch", "keras", "jax", "numpy")},
                     "tensorflow": packages.get("tensorflow") or packages.get("tensorflow-cpu") or "-",
                     "platform": provenance.get("platform"),
                     "commit": ((provenance.get("git") or {}).get("commit") or "-")[:10]})
    return pd.DataFrame(rows).drop_duplicates().sort_values(["hardware", "commit"])


def published(model: str) -> dict:
    """A model's figures as its report published them (`REPORTED` in its spec); {} when it has none."""
    try:
        return registry.spec(model).REPORTED
    except BenchError:
        return {}


def _at_recipe_batch(config: dict) -> bool:
    try:
        return config["batch_size"] == get_recipe(config["recipe"]).batch_size
    except BenchError:
        return True


def _at_recipe_learning_rate(config: dict) -> bool:
    try:
        return config.get("learning_rate") in (None, get_recipe(config["recipe"]).learning_rate)
    except BenchError:
        return True


def report_records(records: list[dict]) -> list[dict]:
    """The successful trials of a report's recipe that stand beside its published figures: those at the
    recipe's own batch size, or every batch size where a model has none there (a batch sweep's other
    rows stand in the Batch size table); never a grid's other learning rates."""
    runs = [r for r in records if r["status"] == "ok" and (r.get("recipe") or {}).get("report")
            and _at_recipe_learning_rate(r["config"])]
    with_own = {r["config"]["model"] for r in runs if _at_recipe_batch(r["config"])}
    return [r for r in runs if _at_recipe_batch(r["config"]) or r["config"]["model"] not in with_own]


def _is_reports_recipe(model: str, recipe: str) -> bool:
    """Whether `recipe` is the one the report that published `model` trained it with."""
    try:
        return get_recipe(recipe).report == registry.spec(model).REPORT
    except BenchError:
        return False


def _published_accuracy(reported: dict) -> tuple[float | None, str]:
    for key, kind in (("test_accuracy", "test"), ("val_accuracy", "validation")):
        if key in reported:
            return reported[key], f"{100 * reported[key]:.1f} % {kind}"
    return None, "-"


def reported_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Each report's published figures (accuracy, params, epoch time) beside ours for the same model and recipe,
    at the recipe's batch size (other batch sizes stand in the Batch size table)."""
    ok = trials[trials["headline"]]
    rows = []
    keys = ["report", "model", "recipe", "framework", "hardware", "dataset", "batch_size", "epochs", "train_size",
            "test_size"]
    for key, group in ok.groupby(keys, sort=True):
        values = dict(zip(keys, key))
        reported = published(values["model"])
        accuracy, described = _published_accuracy(reported)
        ours = group["test_accuracy"].mean()
        context = ", ".join(str(reported[k]) for k in ("framework", "dataset", "stem") if k in reported)
        rows.append({
            "report": values["report"], "model": values["model"], "framework": values["framework"],
            "batch": values["batch_size"],
            "reported accuracy": described,
            "reproduced test acc %": _marked(f"{100 * ours:.2f} (n={len(group)})", _learned(group)),
            "difference (pt)": f"{100 * (ours - accuracy):+.1f}" if accuracy is not None else "-",
            "reported params": f"{reported['params']:,}" if "params" in reported else "-",
            "our params": f"{int(group['params'].iloc[0]):,}",
            "reported epoch time": (f"{reported['epoch_minutes']} min ({reported.get('hardware', '?')})"
                                    if "epoch_minutes" in reported else "-"),
            "our epoch s": f"{group['epoch_s'].median():.1f} ({values['hardware']})",
            "report's setting": f"{context}, {reported['epochs']} epochs" if "epochs" in reported else context,
            "our data and budget": f"{values['dataset']}, {values['epochs']} epochs, "
                                   f"{int(values['train_size'])} train / {int(values['test_size'])} test images",
            "same budget and recipe as the report": "yes" if group["matches_report"].all() else
                                                    f"no: {group['budget_note'].iloc[0] or 'see recipe deviations'}",
        })
    return pd.DataFrame(rows)


def summary_lines(table: pd.DataFrame) -> list[str]:
    """The headline answers, each with its n and spread.

    A "best accuracy" line needs a contest: two or more models on the same data, hardware, recipe and budget.
    Configurations that did not learn are never named (best, fastest to target, throughput).
    """
    lines = []
    ratios = framework_pairs(table)
    table = table[table["learned"]]  # a model that did not learn wins nothing
    keys = ["dataset", "hardware", "recipe", "epochs", "train_size"]
    for (dataset, hardware, recipe, epochs, images), group in table.groupby(keys, sort=True):
        if group["model"].nunique() < 2:
            continue
        ranked = group.sort_values(["acc_mean", "model"], ascending=[False, True])
        best = ranked.iloc[0]
        runner_up = ranked[ranked["model"] != best["model"]].iloc[0]
        lines.append(f"- {dataset}, recipe `{recipe}`, {epochs} epochs on {int(images)} images, {hardware}: best "
                     f"test accuracy {_headline(best)}; best other model {_headline(runner_up)} "
                     f"({group['model'].nunique()} models){_lead(best, runner_up)}.")
    for (hardware, target), group in table.groupby(["hardware", "tta_target"], sort=True):
        reached = group[group["tta_reached"] == group["n"]]
        if not reached.empty:
            fastest = reached.sort_values(["tta_s", "model"]).iloc[0]
            lines.append(f"- Fastest to {100 * target:.0f} % validation accuracy on {hardware}: "
                         f"**{fastest['model']}** ({fastest['framework']}, {fastest['variant']}, batch "
                         f"{fastest['batch_size']}, recipe `{fastest['recipe']}`) in {_seconds(fastest['tta_s'])} s "
                         f"of training (median over n={fastest['n']}; {len(reached)} of {len(group)} "
                         f"configurations reached it in every seed).")
    for hardware, group in table.groupby("hardware", sort=True):
        fastest = group.sort_values("images_per_s", ascending=False).iloc[0]
        lines.append(f"- Highest training throughput on {hardware}: **{fastest['model']}** ({fastest['framework']}, "
                     f"{fastest['variant']}, batch {fastest['batch_size']}) at {fastest['images_per_s']:.0f} "
                     f"images/s (median over n={fastest['n']}; its test accuracy {100 * fastest['acc_mean']:.1f} %).")
    if not ratios.empty:
        values = ratios["epoch time keras/torch"].astype(float)
        lines.append(f"- Keras/PyTorch epoch-time ratio, same model and settings: median {values.median():.2f} "
                     f"(range {values.min():.2f}-{values.max():.2f}, n={len(values)} pairs).")
    return lines


def _lead(best, other) -> str:
    """The best model's lead over the next, with Welch's 95 % interval when both have 2+ seeds."""
    difference, half, verdict = accuracy_verdict_from_summary(best, other)
    if verdict == NO_ESTIMATE:
        return f"; lead {100 * difference:.2f} pt, no interval with a single seed"
    return (f"; lead {100 * difference:.2f} ± {100 * half:.2f} pt (95 % CI), "
            f"{'within' if verdict == WITHIN else 'beyond'} the seed noise")


def _headline(row) -> str:
    spread = f" ± {100 * row['acc_std']:.2f}" if row["n"] > 1 else ""
    return f"**{row['model']}** ({row['framework']}, {row['variant']}) {100 * row['acc_mean']:.2f}{spread} % (n={row['n']})"


def framework_pair_values(table: pd.DataFrame) -> list[dict]:
    """The same configuration in PyTorch and in each Keras backend, as numbers: accuracy difference (keras -
    torch) with Welch's half-width and verdict, epoch-time and memory ratios."""
    keys = ["dataset", "hardware", "model", "variant", "batch_size", "lr", "recipe", "epochs", "train_size",
            "test_size"]
    pairs = []
    for key, group in table.groupby(keys, sort=True):
        torch_rows = group[group["framework"] == "torch"]
        if torch_rows.empty:
            continue
        reference = torch_rows.iloc[0]
        for _, other in group[group["framework"] != "torch"].iterrows():
            difference, half, verdict = accuracy_verdict_from_summary(other, reference)
            pairs.append({**dict(zip(keys, key)), "framework": other["framework"],
                          "n": f"{other['n']}/{reference['n']}", "difference": difference, "half": half,
                          "verdict": verdict, "learned": bool(other["learned"] and reference["learned"]),
                          "time_ratio": other["epoch_s"] / reference["epoch_s"],
                          "memory_ratio": other["peak_rss_mb"] / reference["peak_rss_mb"]})
    return pairs


def framework_pairs(table: pd.DataFrame) -> pd.DataFrame:
    """The Frameworks section: framework_pair_values formatted."""
    return pd.DataFrame([{
        "model": p["model"], "hardware": p["hardware"], "variant": p["variant"], "batch": p["batch_size"],
        "recipe": p["recipe"], "epochs": p["epochs"], "train images": int(p["train_size"]),
        "test images": int(p["test_size"]), "framework": p["framework"], "n keras/torch": p["n"],
        "test acc difference (pt, keras - torch)": _marked(f"{100 * p['difference']:+.2f}", p["learned"]),
        "95% CI (pt)": f"± {100 * p['half']:.2f}" if p["half"] == p["half"] else "n/a (needs 2+ seeds each)",
        "epoch time keras/torch": f"{p['time_ratio']:.2f}",
        "peak RSS keras/torch": f"{p['memory_ratio']:.2f}"} for p in framework_pair_values(table)])


FIRST_CLASSES = ("cat", "dog")  # the reports' hardest classes lead the per-class table


def per_class_table(records: list[dict]) -> pd.DataFrame:
    """Per-class test accuracy of each report's model (mean over seeds) and its most confused pairs."""
    groups: dict[tuple, list[dict]] = {}
    for record in report_records(records):
        config = record["config"]
        key = (record["recipe"]["report"], config["model"], framework_label(record), hardware_label(record),
               record["dataset"]["label"], config["epochs"], record["dataset"]["train_size"])
        groups.setdefault(key, []).append(record)
    rows = []
    for (report, model, framework, hardware, dataset, epochs, images), runs in sorted(groups.items()):
        names = runs[0]["dataset"]["class_names"]
        matrix = sum(np.array(r["test"]["confusion_matrix"]) for r in runs)
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        order = [n for n in FIRST_CLASSES if n in names] + [n for n in names if n not in FIRST_CLASSES]
        row = {"report": report, "model": model, "framework": framework, "hardware": hardware,
               "budget": f"{epochs} epochs, {images} images", "test images": int(matrix.sum() / len(runs)),
               "n": len(runs)}
        if len(names) <= 10:
            row.update({name: f"{100 * rates[names.index(name), names.index(name)]:.1f}" for name in order})
        off_diagonal = rates - np.diag(np.diag(rates))
        worst = np.argsort(off_diagonal, axis=None)[::-1][:3]
        row["most confused (true→predicted)"] = ", ".join(
            f"{names[i // len(names)]}→{names[i % len(names)]} {100 * off_diagonal.flat[i]:.0f}%" for i in worst)
        rows.append(row)
    return pd.DataFrame(rows)


YARDSTICK_TARGET = 0.94  # airbench94's claim: 94 % test accuracy


def yardstick_table(package_runs: list[dict], records: list[dict]) -> pd.DataFrame:
    """The airbench package's own runs (bench.run.yardstick) beside the harness's airbench94 trials, per GPU: test
    accuracy over seeds, and the time to 94 %. The package reaches it at its end, so its time is its whole run;
    a harness trial's is to 94 % validation accuracy, as measured (its first epoch holds compilation) and
    steady (the epochs it took at the median steady epoch time), then as a ratio of the package's time."""
    package_seconds, rows = {}, []
    for device, runs in pd.DataFrame(package_runs).groupby("device_name", sort=True) if package_runs else []:
        package_seconds[device] = runs["train_seconds"].median()
        rows.append({"hardware": device, "run": f"airbench package {runs['airbench_version'].iloc[0]} (its own protocol)",
                     "test accuracy %": accuracy_cell(runs["test_accuracy"].mean(), runs["test_accuracy"].std(ddof=1),
                                                      len(runs)),
                     "time to 94 % s": f"{package_seconds[device]:.2f} (whole run, median)",
                     "steady time to 94 % s": "-", "vs package": "1.00x"})
    trials = [r for r in records if r["config"]["model"] in YARDSTICK_MODELS and r["status"] == "ok"]
    keyed = {}
    for record in trials:
        keyed.setdefault((hardware_label(record), framework_label(record), variant_label(record["config"])),
                         []).append(record)
    for (hardware, framework, variant), runs in sorted(keyed.items()):
        accuracy = [r["test"]["accuracy"] for r in runs]
        reached = [r for r in runs if r["time_to_accuracy"]["epoch"] is not None]
        measured = np.median([r["time_to_accuracy"]["train_seconds"] for r in reached]) if reached else None
        steady = np.median([r["time_to_accuracy"]["epoch"] * r["timing"]["epoch_median_s"] for r in reached]) \
            if reached else None
        target = runs[0]["time_to_accuracy"]["target"]
        package = package_seconds.get(hardware)
        rows.append({"hardware": hardware, "run": f"harness: {runs[0]['config']['model']}, {framework}, {variant}",
                     "test accuracy %": accuracy_cell(np.mean(accuracy), np.std(accuracy, ddof=1) if len(runs) > 1
                                                      else 0.0, len(runs)),
                     "time to 94 % s": (f"{measured:.2f} ({len(reached)}/{len(runs)} reached "
                                        f"{100 * target:.0f} % validation)" if reached else
                                        f"not reached (0/{len(runs)})"),
                     "steady time to 94 % s": f"{steady:.2f}" if reached else "-",
                     "vs package": f"{steady / package:.2f}x" if reached and package else "-"})
    return pd.DataFrame(rows)


def _section(title: str, intro: str, table: pd.DataFrame, lift: tuple[str, ...] = ()) -> list[str]:
    """A leaderboard section's lines, or none when its table is empty. Columns in `lift` are constant within
    each of its sub-tables and go into that sub-table's heading, so the tables stay narrow."""
    if table.empty:
        return []
    if not lift:
        return [f"## {title}", "", intro, "", table.to_markdown(index=False), ""]
    lines = [f"## {title}", "", intro, ""]
    for values, group in table.groupby(list(lift), sort=True):
        heading = ", ".join(str(value) if name in ("hardware", "variant", "dataset") else f"{name} {value}"
                            for name, value in zip(lift, values))
        lines += [f"### {heading}", "", group.drop(columns=list(lift)).to_markdown(index=False), ""]
    return lines


def _derived(records: list[dict], package_runs: list[dict] = ()) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The configurations and every table of the leaderboard by name, each computed once. A search's trials
    (bench.run.tune) make the Searches table only: candidates vary the model and are never scored on test.
    `package_runs`: the airbench package's own runs (bench.run.yardstick), for the Yardstick table."""
    searched = [r for r in records if search_report.is_search(r)]
    records = [r for r in records if not search_report.is_search(r)]
    if not records:  # only searches so far
        return pd.DataFrame(), {"searches": search_report.searches_table(searched), "grid": pd.DataFrame(),
                                "environment": environment_table(searched), "trials": pd.DataFrame()}
    trials = trial_frame(records)
    configs = configurations(trials)
    return configs, {
        "yardstick": yardstick_table(list(package_runs), records),
        "searches": search_report.searches_table(searched), "grid": grid_table(configs),
        "results": leaderboard_table(configs), "architectures": architectures_table(configs),
        "reported_vs_reproduced": reported_table(trials),
        "frameworks": framework_pairs(configs), "per_class": per_class_table(records),
        "fast_vs_naive": speedup_table(trials), "batch_size": batch_size_table(trials),
        "failed_trials": failure_table(trials), "fairness_manifest": manifest_table(records),
        "environment": environment_table(records), "trials": trials}


def tables(records: list[dict]) -> dict[str, pd.DataFrame]:
    """Every table of the leaderboard by name, for the markdown and for the CSV/JSON files."""
    return _derived(records)[1]


def render(records: list[dict], plot_files: list[str] = (), package_runs: list[dict] = ()) -> str:
    return _markdown(*_derived(records, package_runs), plot_files) if records else NO_RESULTS


def searches_markdown(named: dict[str, pd.DataFrame], plot_files: list[str]) -> list[str]:
    """The Searches section: Optuna studies of `bench tune`, then learning-rate x batch-size grids."""
    studies, grid = named["searches"], named["grid"]
    if studies.empty and grid.empty:
        return []
    lines = ["## Searches", ""]
    if not studies.empty:
        lines += ["Optuna studies of `python -m bench tune`, one per framework: each candidate is a trial of its own, "
                  "chosen by TPE (fixed seed) and stopped early by a median pruner on validation accuracy; the best "
                  "candidate by validation accuracy is trained again in a final trial, the only one that sees the "
                  "test set. Searched spaces:", "", *search_report.space_lines(), "",
                  studies.drop(columns=["study"]).to_markdown(index=False), ""]
        lines += [f"![{name.removesuffix('.png')}](plots/{name})" for name in plot_files
                  if name in {search_report.plot_name(study, hardware)
                              for study, hardware in zip(studies["study"], studies["hardware"])}]
        lines.append("")
    if not grid.empty:
        lines += ["### Learning rate x batch size grids", "",
                  "Test accuracy per learning rate (rows) and batch size (columns), as report r4's grid search; "
                  "one block per model, framework and budget.", ""]
        keys = ["dataset", "hardware", "model", "framework", "variant", "recipe", "epochs", "train images",
                "test images"]
        for values, block in grid.groupby(keys, sort=False):
            heading = ", ".join(str(v) for v in values[:5]) + f", recipe {values[5]}, {values[6]} epochs on " \
                      f"{int(values[7]):,} images, {int(values[8]):,} test images"
            lines += [f"#### {heading}", "", block.drop(columns=keys).dropna(axis=1, how="all")
                      .loc[:, lambda b: (b != "-").any()].to_markdown(index=False), ""]
            name = plots.grid_plot_name(*values)
            if name in plot_files:
                lines += [f"![{name.removesuffix('.png')}](plots/{name})", ""]
    return lines


HEADER = ["# cnnbench leaderboard", "",
          "Generated by `python -m bench report` from the raw results in `raw/`; do not edit by hand.", ""]
NO_RESULTS = "\n".join(HEADER + ["No results yet: run `python -m bench run`.", ""])


def _inline_plots(configs: pd.DataFrame, trials: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The two plots of the first screen: accuracy against epoch time for the widest Architectures ranking,
    and the batch-size trade-off of the widest sweep (GPUs first), where they were drawn."""
    from bench.report.plots import batch_name, pareto_name  # plots imports this module

    chosen = []
    common = _architecture_configs(configs)
    if not common.empty:
        hardware, epochs, images = common.groupby(["hardware", "epochs", "train_size"]).size().idxmax()
        chosen.append(pareto_name(hardware, epochs, images))
    for hardware in hardware_order(trials):
        sweep = widest_sweep(trials[trials["hardware"] == hardware])
        if sweep:
            model, _, _, recipe, epochs, images, _, _, _ = sweep[0]
            chosen.append(batch_name(model, hardware, recipe, epochs, images))
            break
    return [f"![{name.removesuffix('.png')}](plots/{name})" for name in chosen if name in plot_files]


def _markdown(configs: pd.DataFrame, named: dict[str, pd.DataFrame], plot_files: list[str]) -> str:
    lines = list(HEADER)
    trials = named["trials"]
    if trials.empty:
        return "\n".join(lines + searches_markdown(named, plot_files)
                         + ["## Environment", "", named["environment"].to_markdown(index=False), ""])
    if not configs.empty:
        lines += ["## Answers", "",
                  "Which CNN, which framework, which batch size, per hardware (GPUs first). CPU budgets here are "
                  "smoke budgets (a few epochs on a few thousand images, 2,000 test images in the quick suites): "
                  "they rank models at that budget, not at the reports'.", "",
                  *answer_lines(configs, trials, framework_pair_values(configs)),
                  *_inline_plots(configs, trials, plot_files), ""]
        lines += ["## Summary", "", *summary_lines(configs), ""]
    lines += architectures_markdown(configs, hardware_order(trials))
    lines += _section("Yardstick", "The fastest known CIFAR-10 trainer, airbench94, for every GPU row to be read "
                      "against: the airbench package run as it runs itself (`python -m bench yardstick`: all "
                      "50,000 training images, test-time augmentation, timed after a warm-up), and its network "
                      "and hyperparameters in this harness (suite `yardstick`: 45,000 training images, no "
                      "test-time augmentation, the deviations in recipe airbench94). Time to 94 %: the package's "
                      "whole run; a harness trial's training time until 94 % validation accuracy, as measured "
                      "(compilation in its first epoch) and steady (epochs to 94 % x its median epoch).",
                      named["yardstick"], lift=("hardware",))
    lines += _section("Frameworks", "The same model, settings, data and budget in PyTorch and Keras: test "
                      "accuracy difference with Welch's 95 % interval over seeds, and ratios of median epoch "
                      "time and peak host memory.", named["frameworks"],
                      lift=("hardware", "variant", "recipe", "epochs", "train images", "test images"))
    lines += _section("Batch size", "Time per epoch, throughput, peak memory and accuracy per batch size "
                      "(report r0's table), per model, framework and hardware, with the first epoch's learning "
                      "rate and the rule that set it (none: the recipe's rate at every batch size; linear, "
                      "sqrt: scaled from the recipe's batch size). The largest batch that ran is marked \"fits\" "
                      "only where a larger one ran out of memory, otherwise \"largest tried\". Where the report "
                      "published its own batch-size table "
                      "(r0, on its CPU) and the row uses the report's recipe, the report's figures stand beside "
                      "ours; compare the shapes (time relative to the smallest batch), not the absolute "
                      "times.", named["batch_size"], lift=("hardware", "recipe"))
    lines += searches_markdown(named, plot_files)
    lines += _section("Fast path vs naive loop", "Median steady epoch time of the fast path (data on the device, "
                      "batched augmentation, and the variant's precision, memory format and compilation) "
                      "against the reports' loop (DataLoader over per-image transforms, float32, eager), "
                      "same model, batch size and hardware.", named["fast_vs_naive"])
    lines += _section("Reported vs reproduced", "Each report's published figures (copied from the report, in "
                      "the columns marked reported: accuracy, parameter count, epoch time on the report's "
                      "hardware) beside ours for the same model and recipe, on our hardware and budget. A "
                      "shorter budget than the report's is stated in the last column; recipe deviations are "
                      "in each result's `recipe.deviations`. The difference compares different datasets "
                      "and budgets wherever the last column says so.", named["reported_vs_reproduced"])
    lines += _section("Per class", "Test accuracy per class (%) of each report's model, cat and dog first "
                      "(the reports' hardest classes), over all its seeds, and its three most confused "
                      "pairs (share of the true class).", named["per_class"])
    lines += ["## Results", "", "Every configuration, one row each, is in [details.md](details.md) (and "
              "`tables/results.csv`).", ""]
    lines += _section("Failed trials", "Recorded faults, never counted as accuracy 0.", named["failed_trials"])
    lines += _section("Fairness manifest", "Settings that change speed or numerics, as in force in each "
                      "framework's trials. By default both sides run strict float32 (TF32 off), without "
                      "compilation (torch eager, keras `jit_compile=False`), with the same thread counts. TF32 "
                      "exists on NVIDIA GPUs only: `tf32_matmul True` on a CPU row (keras on torch before "
                      "TF32 was switched off there too) changed no arithmetic.",
                      named["fairness_manifest"])
    lines += ["## Environment", "", named["environment"].to_markdown(index=False), ""]
    if plot_files:
        lines += ["## Plots", "", *[f"- [{name}](plots/{name})" for name in plot_files], ""]
    lines += ["The tables are also in `tables/` as CSV and JSON; `tables/trials.csv` has one row per trial.", ""]
    return "\n".join(lines)


def render_details(table: pd.DataFrame) -> str:
    """details.md: the Results table (`leaderboard_table`), every configuration, too wide for the leaderboard."""
    return "\n".join([
        "# cnnbench results: every configuration", "",
        "Generated by `python -m bench report` from `raw/`; the summary is in [leaderboard.md](leaderboard.md).", "",
        "One row per model x framework x hardware x batch size x recipe x budget; accuracy is on the test set, "
        "scored once after the last epoch. A trial's epoch time is the median of its steady-state epochs (the "
        "first epoch, with warm-up and tracing, is shown apart); the table gives the median over seeds and their "
        "range; `*` marks a figure from a single epoch, warm-up included; † one measured while another trial "
        "ran on the same machine (a shared node under Ray, or concurrent sweeps).", "",
        table.to_markdown(index=False) if not table.empty else "No successful trials.", ""])


def commands_readme(records: list[dict]) -> str:
    """results/README.md: the exact commands that produced these results, with what each ran and where."""
    runs: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.get("started_at") or ""):
        command = (record.get("provenance") or {}).get("command") or "(not recorded)"
        backend, device = record["config"].get("keras_backend"), record["config"]["device"]
        if backend and backend != DEFAULT_KERAS_BACKEND.get(device):
            command = f"KERAS_BACKEND={backend} {command}"
        run = runs.setdefault(command, {"trials": 0, "hardware": set(), "commits": set(), "first": None})
        run["trials"] += 1
        run["hardware"].add(hardware_label(record))
        run["commits"].add(((record.get("provenance") or {}).get("git") or {}).get("commit", "")[:10] or "-")
        run["first"] = run["first"] or (record.get("started_at") or "")[:10]
    lines = ["# How these results were made", "",
             "Generated by `python -m bench report` from `raw/`; do not edit by hand. Every command that wrote a "
             "result here, as it was typed (paths relative to the project), in the order the runs started, with "
             "how many result files it left, on which hardware and at which commit. Files imported with "
             "`python -m bench import` keep the command of the machine that ran them.", ""]
    for command, run in runs.items():
        lines += [f"- {run['first']}, {run['trials']} result file{'s' if run['trials'] > 1 else ''}, "
                  f"{'; '.join(sorted(run['hardware']))}, commit {', '.join(sorted(run['commits']))}:",
                  "", f"  ```bash\n  {command}\n  ```", ""]
    return "\n".join(lines)


def write_leaderboard(results_dir) -> Path:
    """Write leaderboard.md, tables/*.csv and *.json, and plots/*.png, all from raw/ alone."""
    root = Path(results_dir)
    all_records = store.load(results_dir)
    package_runs = yardstick.load(results_dir)
    records = [r for r in all_records if not search_report.is_search(r)]
    path = root / "leaderboard.md"
    if not all_records:
        path.write_text(NO_RESULTS)
        return path
    configs, named = _derived(all_records, package_runs)
    (root / "tables").mkdir(exist_ok=True)
    for name, table in named.items():
        table.to_csv(root / "tables" / f"{name}.csv", index=False)
        table.to_json(root / "tables" / f"{name}.json", orient="records", indent=1)
    plot_dir = root / "plots"
    for old in plot_dir.glob("*.png"):
        old.unlink()  # derived files: a plot whose results are gone must go too
    trials = named["trials"]
    drawn = search_report.plots(all_records, plot_dir)
    if records:
        drawn += (plots.learning_curves(records, plot_dir)
                  + plots.confusion_matrices(report_records(records), plot_dir)
                  + plots.pareto(_architecture_configs(configs), plot_dir) + plots.batch_sizes(trials, plot_dir)
                  + plots.grids(grid_groups(configs), plot_dir))
    path.write_text(_markdown(configs, named, sorted(p.name for p in drawn)))
    (root / "details.md").write_text(render_details(named.get("results", pd.DataFrame())))
    (root / "README.md").write_text(commands_readme(all_records))
    return path

"""Derived tables: results/leaderboard.md from the raw JSON alone, with pandas + tabulate.

Nothing here measures anything; running it twice on the same raw files gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from bench import registry, store
from bench.errors import BenchError

GROUP_KEYS = ["dataset", "hardware", "model", "framework", "variant", "batch_size", "recipe", "epochs", "train_size"]


def _framework_label(record: dict) -> str:
    backend = record["config"].get("keras_backend")
    return f"keras ({backend})" if backend else record["config"]["framework"]


def _variant(config: dict) -> str:
    """The speed options of a trial, e.g. 'fast+bf16+channels-last+compile=default' or 'naive'."""
    from bench.adapter import Execution

    return Execution(config.get("amp", "off"), config.get("channels_last", False), config.get("compile", "off"),
                     config.get("loader", "fast")).label()


def _hardware_label(record: dict) -> str:
    config, settings = record["config"], record.get("settings") or {}
    if config["device"] == "cuda":
        return settings.get("device_name") or "cuda"
    cpu = (record.get("provenance") or {}).get("cpu", "cpu")
    threads = config["threads"]
    return f"{cpu}, {threads} thread{'s' if threads > 1 else ''}"


def _megabytes(value) -> float | None:
    return value / 2**20 if value else None


def confidence_95(std: float, n: int) -> float:
    """Half-width of the 95 % t-interval of a mean of `n` samples with standard deviation `std`."""
    return float(stats.t.ppf(0.975, n - 1) * std / np.sqrt(n)) if n > 1 else float("nan")


def trial_frame(records: list[dict]) -> pd.DataFrame:
    """One row per trial with the fields tables are made from."""
    rows = []
    for record in records:
        config = record["config"]
        ok = record["status"] == "ok"
        timing = record.get("timing") or {}
        rows.append({
            "dataset": record["dataset"]["label"] if ok else config["dataset"],
            "hardware": _hardware_label(record),
            "device": config["device"],
            "model": config["model"],
            "framework": _framework_label(record),
            "variant": _variant(config),
            "batch_size": config["batch_size"],
            "recipe": config["recipe"],
            "epochs": config["epochs"],
            "train_size": record["dataset"]["train_size"] if ok else config.get("train_subset"),
            "seed": config["seed"],
            "status": record["status"],
            "error": record.get("error"),
            "test_accuracy": record["test"]["accuracy"] if ok else None,
            "epoch_s": timing.get("epoch_median_s"),
            "first_epoch_s": timing.get("first_epoch_s"),
            "warmup_in_epoch_time": ok and timing.get("steady_epochs") == 0,
            "images_per_s": timing.get("train_images_per_s"),
            "peak_rss_mb": (record.get("memory") or {}).get("peak_rss_bytes", 0) / 2**20 if ok else None,
            "peak_device_mb": _megabytes((record.get("memory") or {}).get("peak_device_bytes")),
            "tta_s": (record.get("time_to_accuracy") or {}).get("train_seconds"),
            "tta_target": (record.get("time_to_accuracy") or {}).get("target"),
            "params": (record["model"]["params_trainable"] + record["model"]["params_non_trainable"]) if ok else None,
            "report": (record.get("recipe") or {}).get("report"),
            "budget_note": (record.get("budget") or {}).get("note", ""),
            "matches_report": (record.get("budget") or {}).get("matches_report"),
            "test_size": record["dataset"]["test_size"] if ok else None,
            "file": record["_file"],
        })
    return pd.DataFrame(rows)


def leaderboard_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Successful trials grouped by configuration: accuracy mean and std over seeds, median timings."""
    ok = trials[trials["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    grouped = ok.groupby(GROUP_KEYS, dropna=False, sort=True)
    table = grouped.agg(
        n=("seed", "count"),
        acc_mean=("test_accuracy", "mean"),
        acc_std=("test_accuracy", "std"),
        epoch_s=("epoch_s", "median"),
        first_epoch_s=("first_epoch_s", "median"),
        warmup=("warmup_in_epoch_time", "any"),
        images_per_s=("images_per_s", "median"),
        params=("params", "first"),
        tta_s=("tta_s", "median"),
        tta_reached=("tta_s", "count"),
        tta_target=("tta_target", "first"),
    ).reset_index()
    table = table.sort_values(["dataset", "hardware", "model", "framework", "variant", "batch_size"])
    return pd.DataFrame({
        "model": table["model"],
        "framework": table["framework"],
        "variant": table["variant"],
        "hardware": table["hardware"],
        "batch": table["batch_size"],
        "test acc % (mean ± std, n)": [
            f"{100 * m:.2f} ± {100 * s:.2f} (n={n})" if n > 1 else f"{100 * m:.2f} (n=1)"
            for m, s, n in zip(table["acc_mean"], table["acc_std"].fillna(0), table["n"])],
        "95% CI (pt)": [f"± {100 * confidence_95(s, n):.2f}" if n > 1 else "-"
                        for s, n in zip(table["acc_std"].fillna(0), table["n"])],
        "epoch s (median)": [f"{e:.1f}{'*' if w else ''}" for e, w in zip(table["epoch_s"], table["warmup"])],
        "first epoch s": [f"{v:.1f}" for v in table["first_epoch_s"]],
        "train img/s": [f"{v:.0f}" for v in table["images_per_s"]],
        "params": [f"{int(p):,}" for p in table["params"]],
        "time to val target": [_time_to_target(t, r, n, g) for t, r, n, g in
                               zip(table["tta_s"], table["tta_reached"], table["n"], table["tta_target"])],
        "epochs": table["epochs"],
        "train images": table["train_size"].astype(int),
        "recipe": table["recipe"],
        "dataset": table["dataset"],
    })


def _time_to_target(seconds, reached: int, n: int, target) -> str:
    if target is None or pd.isna(target):
        return "-"
    if not reached:
        return f"not reached ({100 * target:.0f}%)"
    return f"{seconds:.0f} s to {100 * target:.0f}% ({reached}/{n})"


def batch_size_table(trials: pd.DataFrame) -> pd.DataFrame:
    """r0's trade-off table for every model x framework x hardware run at two or more batch sizes."""
    keys = ["model", "framework", "hardware", "dataset", "recipe", "epochs", "train_size"]
    rows = []
    for key, group in trials.groupby(keys, dropna=False, sort=True):
        if group["batch_size"].nunique() < 2:
            continue
        fits = group[group["status"] == "ok"]["batch_size"]
        largest = fits.max() if not fits.empty else None
        for batch, runs in group.groupby("batch_size", sort=True):
            ok = runs[runs["status"] == "ok"]
            rows.append({
                "model": key[0], "framework": key[1], "hardware": key[2], "batch": batch,
                "status": "ok" if len(ok) == len(runs) else ", ".join(sorted(set(runs["status"]))),
                "epoch s": f"{ok['epoch_s'].median():.1f}" if not ok.empty else "-",
                "img/s": f"{ok['images_per_s'].median():.0f}" if not ok.empty else "-",
                "peak RSS MB": f"{ok['peak_rss_mb'].max():.0f}" if not ok.empty else "-",
                "peak device MB": f"{ok['peak_device_mb'].max():.0f}" if ok["peak_device_mb"].notna().any() else "-",
                "test acc %": f"{100 * ok['test_accuracy'].mean():.2f} (n={len(ok)})" if not ok.empty else "-",
                "largest that fits": "✓" if batch == largest else "",
            })
    return pd.DataFrame(rows)


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
            rows.append({"model": model, "framework": framework, "hardware": hardware, "batch": batch,
                         "fast variant": variant, "fast epoch s": f"{fast_s:.2f}", "naive epoch s": f"{naive_s:.2f}",
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
            rows.append({"framework": _framework_label(record), "hardware": _hardware_label(record),
                         **{f: str(settings.get(f, "-")) for f in MANIFEST_FIELDS}})
    return pd.DataFrame(rows).drop_duplicates().sort_values(["hardware", "framework"]) if rows else pd.DataFrame()


def environment_table(records: list[dict]) -> pd.DataFrame:
    """The machines and versions behind the rows."""
    rows = []
    for record in records:
        provenance = record.get("provenance") or {}
        packages = provenance.get("packages") or {}
        rows.append({"hardware": _hardware_label(record), "python": provenance.get("python"),
                     **{name: packages.get(name) or "-" for name in ("torch", "keras", "numpy")},
                     "tensorflow": packages.get("tensorflow") or packages.get("tensorflow-cpu") or "-",
                     "platform": provenance.get("platform"),
                     "commit": ((provenance.get("git") or {}).get("commit") or "-")[:10]})
    return pd.DataFrame(rows).drop_duplicates().sort_values(["hardware", "commit"])


def _reported_figure(model: str) -> tuple[float | None, str]:
    """A model's published accuracy (as a fraction) and how the report measured it."""
    try:
        reported = registry.spec(model).REPORTED
    except BenchError:
        return None, "model no longer registered"
    for key, kind in (("test_accuracy", "test"), ("val_accuracy", "validation")):
        if key in reported:
            context = ", ".join(f"{k} {v}" for k, v in reported.items()
                                if k in ("epochs", "framework", "hardware", "dataset", "stem", "params",
                                         "epoch_minutes"))
            return reported[key], f"{100 * reported[key]:.1f} % {kind} ({context})"
    return None, "no accuracy published"


def reported_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Each report's published figure beside ours for the same model and recipe."""
    ok = trials[(trials["status"] == "ok") & trials["report"].notna()]
    rows = []
    keys = ["report", "model", "recipe", "framework", "hardware", "dataset", "epochs", "train_size", "test_size"]
    for key, group in ok.groupby(keys, sort=True):
        values = dict(zip(keys, key))
        published, described = _reported_figure(values["model"])
        ours = group["test_accuracy"].mean()
        rows.append({
            "report": values["report"], "model": values["model"], "framework": values["framework"],
            "hardware": values["hardware"], "reported": described,
            "reproduced test acc %": f"{100 * ours:.2f} (n={len(group)})",
            "difference (pt)": f"{100 * (ours - published):+.1f}" if published is not None else "-",
            "our data and budget": f"{values['dataset']}, {values['epochs']} epochs, "
                                   f"{int(values['train_size'])} train / {int(values['test_size'])} test images",
            "our params": f"{int(group['params'].iloc[0]):,}",
            "epoch s": f"{group['epoch_s'].median():.1f}",
            "same budget and recipe as the report": "yes" if group["matches_report"].all() else
                                                    f"no: {group['budget_note'].iloc[0] or 'see recipe deviations'}",
        })
    return pd.DataFrame(rows)


def _section(title: str, intro: str, table: pd.DataFrame) -> list[str]:
    """A leaderboard section's lines, or none when its table is empty."""
    if table.empty:
        return []
    return [f"## {title}", "", intro, "", table.to_markdown(index=False), ""]


def render(records: list[dict]) -> str:
    lines = ["# cnnbench leaderboard", "",
             "Generated by `python -m bench report` from the raw results in `raw/`; do not edit by hand.", ""]
    if not records:
        return "\n".join(lines + ["No results yet: run `python -m bench run`.", ""])
    trials = trial_frame(records)
    table = leaderboard_table(trials)
    lines += ["## Results", "",
              "One row per model x framework x hardware x batch size; accuracy is on the test set, "
              "scored once after the last epoch. Epoch time is the median of the steady-state epochs "
              "(the first epoch, with warm-up and tracing, is shown apart); `*` marks a figure from a "
              "single epoch, warm-up included.", ""]
    lines += [table.to_markdown(index=False) if not table.empty else "No successful trials.", ""]
    lines += _section("Reported vs reproduced", "Each report's published figure (copied from the report, "
                      "labelled as such) beside ours: same model and recipe, our hardware and budget. A "
                      "shorter budget than the report's is stated in the last column; recipe deviations are "
                      "in each result's `recipe.deviations`. The difference compares different datasets "
                      "and budgets wherever the last column says so.", reported_table(trials))
    lines += _section("Fast path vs naive loop", "Median steady epoch time of the fast path (data on the device, "
                      "batched augmentation, and the variant's precision, memory format and compilation) "
                      "against the reports' loop (DataLoader over per-image transforms, float32, eager), "
                      "same model, batch size and hardware.", speedup_table(trials))
    lines += _section("Batch size", "Time per epoch, throughput, peak memory and accuracy per batch size "
                      "(report r0's table), per model, framework and hardware; ✓ marks the largest batch size "
                      "that ran without running out of memory. The learning-rate rule is in each result's "
                      "config.", batch_size_table(trials))
    lines += _section("Failed trials", "Recorded faults, never counted as accuracy 0.", failure_table(trials))
    lines += _section("Fairness manifest", "Settings that change speed or numerics, as in force in each "
                      "framework's trials. By default both sides run strict float32 (TF32 off), without "
                      "compilation (torch eager, keras `jit_compile=False`), with the same thread counts.",
                      manifest_table(records))
    lines += ["## Environment", "", environment_table(records).to_markdown(index=False), ""]
    return "\n".join(lines)


def write_leaderboard(results_dir) -> Path:
    path = Path(results_dir) / "leaderboard.md"
    path.write_text(render(store.load(results_dir)))
    return path

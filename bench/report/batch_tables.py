"""The batch-size tables: time, throughput, memory and accuracy per batch size (with r0's published table
beside ours), and the learning-rate x batch-size grids."""

from __future__ import annotations

import pandas as pd

from bench.report.answers import RECIPE_LR
from bench.report.cells import accuracy_cell, marked, runs_learned
from bench.report.frame import is_papers_recipe, published


def batch_size_table(trials: pd.DataFrame) -> pd.DataFrame:
    """r0's trade-off table for every model x framework x hardware run at two or more batch sizes."""
    keys = ["model", "framework", "hardware", "dataset", "recipe", "epochs", "train_size", "lr", "variant"]
    rows = []
    for key, group in trials.groupby(keys, dropna=False, sort=True):
        if group["batch_size"].nunique() >= 2:
            sweep = _batch_sweep(key[0], key[4], group)
            rows += [_batch_row(key, batch, runs, sweep) for batch, runs in group.groupby("batch_size", sort=True)]
    return pd.DataFrame(rows)


def _batch_sweep(model: str, recipe: str, group: pd.DataFrame) -> dict:
    """What every row of one batch-size sweep is read against: its largest batch that ran (and whether a larger
    one ran out of memory), its smallest batch's epoch time, and the paper's batch-size figures."""
    ok_runs = group[group["status"] == "ok"]
    fits = ok_runs["batch_size"]
    largest = fits.max() if not fits.empty else None
    out_of_memory = group[group["status"] == "oom"]["batch_size"]
    reported = published(model).get("batch_sizes", {}) if is_papers_recipe(model, recipe) else {}
    return {
        "largest": largest,
        "limit": "fits (a larger batch ran out of memory)"
        if (out_of_memory > (largest or 0)).any()
        else "largest tried",
        "smallest_s": ok_runs[fits == fits.min()]["epoch_s"].median() if not fits.empty else None,
        "reported": reported,
        "smallest_reported": reported[min(reported)][0] if reported else None,
    }


def _batch_row(key: tuple, batch: int, runs: pd.DataFrame, sweep: dict) -> dict:
    """One batch size of a sweep: status, time, throughput, memory and accuracy, beside the paper's figures."""
    ok = runs[runs["status"] == "ok"]
    ran = not ok.empty
    reported = sweep["reported"]
    return {
        "model": key[0],
        "framework": key[1],
        "hardware": key[2],
        "recipe": key[4],
        "batch": batch,
        "status": "ok" if len(ok) == len(runs) else ", ".join(sorted(set(runs["status"]))),
        "epoch s": f"{ok['epoch_s'].median():.1f}" if ran else "-",
        "img/s": f"{ok['images_per_s'].median():.0f}" if ran else "-",
        "peak RSS MB": f"{ok['peak_rss_mb'].max():.0f}" if ran else "-",
        "peak device MB": f"{ok['peak_device_mb'].max():.0f}" if ok["peak_device_mb"].notna().any() else "-",
        "test acc %": marked(f"{100 * ok['test_accuracy'].mean():.2f} (n={len(ok)})", runs_learned(ok)) if ran else "-",
        "epoch time ÷ smallest batch's": f"{ok['epoch_s'].median() / sweep['smallest_s']:.2f}" if ran else "-",
        "reported: min/epoch (÷ smallest), test acc": (
            f"{reported[batch][0]} ({reported[batch][0] / sweep['smallest_reported']:.2f}), "
            f"{100 * reported[batch][1]:.0f} %"
            if batch in reported
            else "-"
        ),
        "lr (epoch 1), rule": f"{ok['first_lr'].iloc[0]:.3g}, {runs['lr_rule'].iloc[0]}"
        if ran
        else f"-, {runs['lr_rule'].iloc[0]}",
        "test images": int(ok["test_size"].iloc[0]) if ran else "-",
        "largest": sweep["limit"] if batch == sweep["largest"] else "",
    }


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
                row[f"batch {cell['batch_size']}"] = accuracy_cell(
                    cell["acc_mean"],
                    0 if pd.isna(cell["acc_std"]) else cell["acc_std"],
                    cell["n"],
                    cell["repeats"],
                    cell["learned"],
                )
            rows.append(row)
    frame = pd.DataFrame(rows).fillna("-")
    frame["lr"] = frame["lr"].astype(float)
    frame = frame.sort_values(GRID_KEYS + ["lr"])
    frame["lr"] = frame["lr"].map("{:g}".format)
    batches = sorted((c for c in frame.columns if c.startswith("batch ")), key=lambda c: int(c.split()[1]))
    frame = frame[GRID_KEYS + ["lr"] + batches]
    return frame.rename(columns={"train_size": "train images", "test_size": "test images"})

"""The leaderboard's tables as data frames, each from the trial frame or the records: results, architectures,
reported vs reproduced, framework pairs, per class, batch size, grids, speed-ups, failures, yardstick,
fairness manifest and environment. `derived` computes them all once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.report import search_report
from bench.report.answers import SHARED
from bench.report.batch_tables import batch_size_table, grid_table
from bench.report.cells import accuracy_cell
from bench.report.claims import claims_table
from bench.report.frame import configurations, paper_records, trial_frame
from bench.report.labels import framework_label, hardware_label, on_machine, variant_label
from bench.report.pairs import framework_pairs, parity_at_convergence
from bench.report.reproduction import reported_table
from bench.report.statistics import confidence_95
from bench.report.twins import twins_table
from bench.spec.suites import YARDSTICK_MODELS

# The version columns of the leaderboard's Environment table: each a package, or the first found of its builds.
ENVIRONMENT_PACKAGES = {
    "torch": ("torch",),
    "keras": ("keras",),
    "jax": ("jax",),
    "numpy": ("numpy",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
}

EPOCH_COLUMN = "epoch s (median, range over seeds)"


def formatted_columns(table: pd.DataFrame) -> dict[str, list]:
    """The measured figures of configurations as table cells, shared by the Results and Architectures sections."""
    return {
        "test acc % (mean ± std, n)": [
            accuracy_cell(m, s, n, r, learned)
            for m, s, n, r, learned in zip(
                table["acc_mean"], table["acc_std"].fillna(0), table["n"], table["repeats"], table["learned"]
            )
        ],
        "95% CI (pt)": [
            f"± {100 * confidence_95(s, n):.2f}" if n > 1 else "-"
            for s, n in zip(table["acc_std"].fillna(0), table["n"])
        ],
        EPOCH_COLUMN: [
            f"{e:.1f}{'*' if w else ''}{SHARED if shared else ''}" + (f" ({lo:.1f}-{hi:.1f})" if n > 1 else "")
            for e, w, shared, lo, hi, n in zip(
                table["epoch_s"],
                table["warmup"],
                table["shared"],
                table["epoch_s_min"],
                table["epoch_s_max"],
                table["n"],
            )
        ],
        "first epoch s": [f"{v:.1f}" for v in table["first_epoch_s"]],
        "train img/s": [f"{v:.0f}" for v in table["images_per_s"]],
        "params": [f"{int(p):,}" for p in table["params"]],
        "MFLOPs/image": [f"{v:.1f}" for v in table["mflops"]],
        "time to val target": [
            _time_to_target(t, r, n, g)
            for t, r, n, g in zip(table["tta_s"], table["tta_reached"], table["n"], table["tta_target"])
        ],
        "peak RSS MB": [f"{v:.0f}" for v in table["peak_rss_mb"]],
    }


RESULTS_COLUMNS = [
    "test acc % (mean ± std, n)",
    "95% CI (pt)",
    EPOCH_COLUMN,
    "first epoch s",
    "train img/s",
    "params",
    "time to val target",
]


ARCHITECTURE_COLUMNS = [
    "test acc % (mean ± std, n)",
    "params",
    "MFLOPs/image",
    EPOCH_COLUMN,
    "train img/s",
    "time to val target",
    "peak RSS MB",
]


def leaderboard_table(table: pd.DataFrame) -> pd.DataFrame:
    """The configurations, formatted for the Results section."""
    if table.empty:
        return table
    cells = formatted_columns(table)
    return pd.DataFrame(
        {
            "model": table["model"],
            "framework": table["framework"],
            "variant": table["variant"],
            "hardware": table["hardware"],
            "batch": table["batch_size"],
            "lr": table["lr"],
            **{name: cells[name] for name in RESULTS_COLUMNS},
            "epochs": table["epochs"],
            "train images": table["train_size"].astype(int),
            "test images": table["test_size"].astype(int),
            "recipe": table["recipe"],
            "dataset": table["dataset"],
        }
    )


ARCHITECTURE_RECIPE = "common"  # the one recipe every model is trained with, to compare architectures


def architecture_configs(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["recipe"] == ARCHITECTURE_RECIPE] if not table.empty else table


ARCHITECTURE_KEYS = ["hardware", "dataset", "epochs", "train_size", "test_size", "batch_size", "variant"]


def architectures_table(table: pd.DataFrame) -> pd.DataFrame:
    """Every model under the common recipe: one ranking across frameworks per hardware, budget, batch size
    and variant, best first (the CSV/JSON table; the leaderboard prints one section per ranking)."""
    common = architecture_configs(table)
    if common.empty:
        return pd.DataFrame()
    order = common.sort_values(
        ARCHITECTURE_KEYS + ["acc_mean", "model"], ascending=[True] * len(ARCHITECTURE_KEYS) + [False, True]
    )
    cells = formatted_columns(order)
    return pd.DataFrame(
        {
            "model": order["model"],
            "framework": order["framework"],
            **{name: cells[name] for name in ARCHITECTURE_COLUMNS},
            "hardware": order["hardware"],
            "dataset": order["dataset"],
            "epochs": order["epochs"],
            "train images": order["train_size"].astype(int),
            "test images": order["test_size"].astype(int),
            "batch": order["batch_size"],
            "variant": order["variant"],
        }
    )


def _time_to_target(seconds, reached: int, n: int, target) -> str:
    if target is None or pd.isna(target):
        return "-"
    if not reached:
        return f"not reached ({100 * target:.0f}%)"
    return f"{seconds_cell(seconds)} s to {100 * target:.0f}% ({reached}/{n})"


def seconds_cell(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


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
            rows.append(
                {
                    "model": model,
                    "framework": framework,
                    "hardware": hardware,
                    "batch": batch,
                    "fast variant": variant,
                    "fast epoch s": f"{fast_s:.2f}",
                    "naive epoch s": f"{naive_s:.2f}",
                    "test images": ", ".join(f"{size:,}" for size in tested),
                    "speed-up": f"{naive_s / fast_s:.1f}x",
                }
            )
    return pd.DataFrame(rows)


def failure_table(trials: pd.DataFrame) -> pd.DataFrame:
    failed = trials[trials["status"] != "ok"].sort_values("file")
    return failed[["model", "framework", "hardware", "batch_size", "seed", "status", "error"]]


MANIFEST_FIELDS = [
    "compile",
    "precision",
    "tf32_matmul",
    "cudnn_benchmark",
    "memory_format",
    "threads_intra_op",
    "threads_inter_op",
]


def manifest_table(records: list[dict]) -> pd.DataFrame:
    """The speed- and numerics-relevant settings in force behind the rows, per framework and hardware."""
    rows = []
    for record in records:
        if record["status"] == "ok":
            settings = record.get("settings") or {}
            rows.append(
                {
                    "framework": framework_label(record),
                    "hardware": hardware_label(record),
                    **{f: str(settings.get(f, "-")) for f in MANIFEST_FIELDS},
                }
            )
    return pd.DataFrame(rows).drop_duplicates().sort_values(["hardware", "framework"]) if rows else pd.DataFrame()


def environment_table(records: list[dict]) -> pd.DataFrame:
    """The machines and versions behind the rows."""
    rows = []
    for record in records:
        provenance = record.get("provenance") or {}
        packages = provenance.get("packages") or {}
        rows.append(
            {
                "hardware": hardware_label(record),
                "python": provenance.get("python"),
                **{
                    column: next((packages[name] for name in names if packages.get(name)), "-")
                    for column, names in ENVIRONMENT_PACKAGES.items()
                },
                "platform": provenance.get("platform"),
                "commit": ((provenance.get("git") or {}).get("commit") or "-")[:10],
            }
        )
    return pd.DataFrame(rows).drop_duplicates().sort_values(["hardware", "commit"])


FIRST_CLASSES = ("cat", "dog")  # the reports' hardest classes lead the per-class table


SERVING_KEYS = ["hardware", "dataset", "model", "variant", "recipe", "epochs", "train_size"]


def inference_table(trials: pd.DataFrame) -> pd.DataFrame:
    """Per hardware, data, model and budget: the framework that serves fastest at batch 1 and the one with the
    most images per second, each with its test accuracy; medians over the ok trials that measured inference."""
    served = trials[(trials["status"] == "ok") & trials["latency_ms"].notna()]
    if served.empty:
        return pd.DataFrame()
    per_framework = (
        served.groupby([*SERVING_KEYS, "framework"], sort=True)
        .agg(
            latency=("latency_ms", "median"),
            p99=("latency_p99_ms", "median"),
            rate=("serve_images_per_s", "median"),
            batch=("serve_batch", "max"),
            accuracy=("test_accuracy", "mean"),
            n=("test_accuracy", "count"),
            loaded=("serve_loaded", "any"),
            path=("serve_path", "first"),
        )
        .reset_index()
    )
    return pd.DataFrame([_serving_row(key, group) for key, group in per_framework.groupby(SERVING_KEYS, sort=True)])


def _serving_row(key: tuple, group: pd.DataFrame) -> dict:
    """One model and budget: the fastest framework at batch 1, the others' latencies, the highest throughput."""
    values = dict(zip(SERVING_KEYS, key))
    fastest = group.sort_values(["latency", "framework"]).iloc[0]
    most = group.sort_values(["rate", "framework"], ascending=[False, True]).iloc[0]
    others = group[group["framework"] != fastest["framework"]]
    return {
        "hardware": values["hardware"],
        "model": values["model"],
        "data and budget": f"{values['dataset']}, `{values['recipe']}` x {values['epochs']} ep, "
        f"{int(values['train_size']):,} img, {values['variant']}",
        "fastest at batch 1": f"{fastest['framework']}: {_served_cell(fastest)}",
        "others at batch 1": "; ".join(f"{o['framework']}: {_served_cell(o)}" for _, o in others.iterrows()) or "-",
        "most images/s": _throughput_cell(most),
        "serving paths": "; ".join(sorted(set(group["path"]))),
    }


def _throughput_cell(row: pd.Series) -> str:
    """Images per second at the largest batch that fit, † where timed under load, with the test accuracy."""
    if pd.isna(row["rate"]):
        return f"{row['framework']}: no batch of the ladder fit in memory"
    mark = SHARED if row["loaded"] else ""
    rate = f"{row['rate']:,.0f} at batch {int(row['batch'])}{mark}"
    return f"{row['framework']}: {rate}, test acc {100 * row['accuracy']:.1f} %"


def _served_cell(row: pd.Series) -> str:
    """Batch-1 latency (median and p99, ms), † where timed under load, and the test accuracy over n trials."""
    mark = SHARED if row["loaded"] else ""
    return (
        f"{row['latency']:.2f} ms (p99 {row['p99']:.2f}){mark}, test acc {100 * row['accuracy']:.1f} % (n={row['n']})"
    )


def per_class_table(records: list[dict]) -> pd.DataFrame:
    """Per-class test accuracy of each paper's model (mean over seeds) and its most confused pairs."""
    groups: dict[tuple, list[dict]] = {}
    for record in paper_records(records):
        config = record["config"]
        key = (
            record["recipe"]["paper"],
            config["model"],
            framework_label(record),
            hardware_label(record),
            record["dataset"]["label"],
            config["epochs"],
            record["dataset"]["train_size"],
        )
        groups.setdefault(key, []).append(record)
    rows = []
    for (paper, model, framework, hardware, _, epochs, images), runs in sorted(groups.items()):
        names = runs[0]["dataset"]["class_names"]
        matrix = sum(np.array(r["test"]["confusion_matrix"]) for r in runs)
        rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        order = [n for n in FIRST_CLASSES if n in names] + [n for n in names if n not in FIRST_CLASSES]
        row = {
            "report": paper,
            "model": model,
            "framework": framework,
            "hardware": hardware,
            "budget": f"{epochs} epochs, {images} images",
            "test images": int(matrix.sum() / len(runs)),
            "n": len(runs),
        }
        if len(names) <= 10:
            row.update({name: f"{100 * rates[names.index(name), names.index(name)]:.1f}" for name in order})
        off_diagonal = rates - np.diag(np.diag(rates))
        worst = np.argsort(off_diagonal, axis=None)[::-1][:3]
        row["most confused (true→predicted)"] = ", ".join(
            f"{names[i // len(names)]}→{names[i % len(names)]} {100 * off_diagonal.flat[i]:.0f}%" for i in worst
        )
        rows.append(row)
    return pd.DataFrame(rows)


def yardstick_table(package_runs: list[dict], records: list[dict]) -> pd.DataFrame:
    """The airbench package's own runs (bench.run.yardstick) beside the harness's airbench94 trials, per GPU: test
    accuracy over seeds, and the time to 94 %. The package reaches it at its end, so its time is its whole run;
    a harness trial's is to 94 % validation accuracy, as measured (its first epoch holds compilation) and
    steady (the epochs it took at the median steady epoch time), then as a ratio of the package's time."""
    package_seconds, rows = {}, []
    machines = [on_machine(run["device_name"], run.get("provenance") or {}) for run in package_runs]
    for device, runs in pd.DataFrame(package_runs).groupby(machines, sort=True) if package_runs else []:
        package_seconds[device] = runs["train_seconds"].median()
        rows.append(
            {
                "hardware": device,
                "run": f"airbench package {runs['airbench_version'].iloc[0]} (its own protocol)",
                "test accuracy %": accuracy_cell(
                    runs["test_accuracy"].mean(), runs["test_accuracy"].std(ddof=1), len(runs)
                ),
                "time to 94 % s": f"{package_seconds[device]:.2f} (whole run, median)",
                "steady time to 94 % s": "-",
                "vs package": "1.00x",
            }
        )
    keyed = {}
    for record in records:
        if record["config"]["model"] in YARDSTICK_MODELS and record["status"] == "ok":
            key = (hardware_label(record), framework_label(record), variant_label(record["config"]))
            keyed.setdefault(key, []).append(record)
    rows += [_harness_row(*key, runs, package_seconds.get(key[0])) for key, runs in sorted(keyed.items())]
    return pd.DataFrame(rows)


def _harness_row(hardware: str, framework: str, variant: str, runs: list[dict], package: float | None) -> dict:
    """The harness's airbench94 trials of one hardware, framework and variant: accuracy, time to 94 % as measured
    and steady, and the steady time over the package's."""
    accuracy = [r["test"]["accuracy"] for r in runs]
    reached = [r for r in runs if r["time_to_accuracy"]["epoch"] is not None]
    measured = np.median([r["time_to_accuracy"]["train_seconds"] for r in reached]) if reached else None
    steady = (
        np.median([r["time_to_accuracy"]["epoch"] * r["timing"]["epoch_median_s"] for r in reached])
        if reached
        else None
    )
    target = runs[0]["time_to_accuracy"]["target"]
    spread = np.std(accuracy, ddof=1) if len(runs) > 1 else 0.0
    return {
        "hardware": hardware,
        "run": f"harness: {runs[0]['config']['model']}, {framework}, {variant}",
        "test accuracy %": accuracy_cell(np.mean(accuracy), spread, len(runs)),
        "time to 94 % s": (
            f"{measured:.2f} ({len(reached)}/{len(runs)} reached {100 * target:.0f} % validation)"
            if reached
            else f"not reached (0/{len(runs)})"
        ),
        "steady time to 94 % s": f"{steady:.2f}" if reached else "-",
        "vs package": f"{steady / package:.2f}x" if reached and package else "-",
    }


def derived(records: list[dict], package_runs: list[dict] = ()) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The configurations and every table of the leaderboard by name, each computed once. A search's trials
    (bench.run.tune) make the Searches table only: candidates vary the model and are never scored on test.
    `package_runs`: the airbench package's own runs (bench.run.yardstick), for the Yardstick table."""
    searched = [r for r in records if search_report.is_search(r)]
    records = [r for r in records if not search_report.is_search(r)]
    if not records:  # only searches so far
        return pd.DataFrame(), {
            "searches": search_report.searches_table(searched),
            "grid": pd.DataFrame(),
            "environment": environment_table(searched),
            "trials": pd.DataFrame(),
        }
    trials = trial_frame(records)
    configs = configurations(trials)
    if configs.empty:  # failed trials only: nothing measured to tabulate but the failures
        return configs, {
            "searches": search_report.searches_table(searched),
            "grid": pd.DataFrame(),
            "failed_trials": failure_table(trials),
            "fairness_manifest": manifest_table(records),
            "environment": environment_table(records),
            "trials": trials,
        }
    return configs, {
        "yardstick": yardstick_table(list(package_runs), records),
        "searches": search_report.searches_table(searched),
        "grid": grid_table(configs),
        "results": leaderboard_table(configs),
        "architectures": architectures_table(configs),
        "reported_vs_reproduced": reported_table(trials),
        "inference": inference_table(trials),
        "inference_converged": inference_table(trials[trials["converged"]]),
        "claims": claims_table(configs),
        "twins": twins_table(trials),
        "frameworks": framework_pairs(configs),
        "parity_at_convergence": parity_at_convergence(configs),
        "per_class": per_class_table(records),
        "fast_vs_naive": speedup_table(trials),
        "batch_size": batch_size_table(trials),
        "batch_size_converged": batch_size_table(trials[trials["converged"]]),
        "failed_trials": failure_table(trials),
        "fairness_manifest": manifest_table(records),
        "environment": environment_table(records),
        "trials": trials,
    }

"""The trial records as pandas data frames: one row per trial (`trial_frame`), and one per configuration
with its seeds summarised (`configurations`). Every table of the leaderboard starts here."""

from __future__ import annotations

import pandas as pd

from bench.errors import BenchError
from bench.measure.load import FOREIGN_LOAD_CORES, epoch_time_and_load
from bench.report.answers import RECIPE_LR, learned
from bench.report.labels import framework_label, hardware_label, variant_label
from bench.results import store
from bench.spec import registry
from bench.spec.recipes import get_recipe

GROUP_KEYS = [
    "dataset",
    "hardware",
    "model",
    "framework",
    "variant",
    "batch_size",
    "lr",
    "lr_rule",
    "recipe",
    "epochs",
    "train_size",
    "test_size",
]


def _megabytes(value) -> float | None:
    return value / 2**20 if value else None


def _split_key(config: dict) -> tuple:
    """The dataset and split sizes of a trial: trials alike in them scored the same images."""
    return config["dataset"], config.get("val_size"), config.get("train_subset"), config.get("test_subset")


def trial_frame(records: list[dict]) -> pd.DataFrame:
    """One row per trial with the fields tables are made from."""
    headline_files = {record["_file"] for record in paper_records(records)}
    # A failed trial has no dataset block: it takes the one of a successful trial of the same data and split.
    datasets = {_split_key(r["config"]): r["dataset"] for r in records if r["status"] == "ok"}
    label_of = dataset_labels([r["dataset"] for r in records if r["status"] == "ok"])
    rows = []
    for record in records:
        dataset = record["dataset"] if record["status"] == "ok" else datasets.get(_split_key(record["config"]), {})
        dataset = {**dataset, "label": label_of(dataset)} if dataset else dataset
        rows.append(
            {
                **_what_ran(record, dataset),
                **_what_was_measured(record),
                "headline": record["_file"] in headline_files,
                "file": record["_file"],
                "finished_at": record.get("finished_at"),
            }
        )
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS if rows else None)


def dataset_labels(datasets: list[dict]):
    """A function giving a dataset block its label, one per set of images: blocks whose decoded images hash alike
    (`images_sha256`), or whose file's sha256 a block of those images names, share one label that names each way
    of reading them ('CIFAR-10 (JPEG q75 copy) = CIFAR-10 (image folder cifar10-jpeg, ...)'). Blocks from before
    the images were hashed (schema 7) keep their own label until a newer block names their file."""
    images_of_file = {d["sha256"]: d["images_sha256"] for d in datasets if d.get("images_sha256") and d.get("sha256")}

    def images(dataset: dict) -> str:
        return dataset.get("images_sha256") or images_of_file.get(dataset.get("sha256")) or dataset.get("label", "")

    names: dict[str, set[str]] = {}
    for dataset in datasets:
        names.setdefault(images(dataset), set()).add(dataset["label"])
    return lambda dataset: " = ".join(sorted(names.get(images(dataset), {dataset.get("label", "")})))


TRIAL_COLUMNS = (  # the order of tables/trials.csv
    "dataset dataset_name hardware device model framework variant batch_size lr recipe epochs train_size seed "
    "status error test_accuracy chance trial_id trial_key epoch_s first_epoch_s warmup_in_epoch_time "
    "timing_shared images_per_s peak_rss_mb peak_device_mb tta_s tta_epoch tta_target epochs_run params mflops "
    "lr_rule first_lr paper "
    "headline budget_note matches_paper converged at_recipe_batch full_budget test_size file finished_at "
    "latency_ms latency_p99_ms serve_images_per_s serve_batch serve_path serve_loaded"
).split()


def _what_ran(record: dict, dataset: dict) -> dict:
    """A trial's identity columns: data, hardware, model, framework, variant, budget, seed and its paper."""
    config = record["config"]
    return {
        "dataset": dataset.get("label", config["dataset"]),
        "dataset_name": config["dataset"],
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
        "test_size": dataset.get("test_size"),
        "seed": config["seed"],
        "trial_id": record["trial_id"],
        "trial_key": store.trial_key(record),  # repeats share it, across cnnbench versions too
        "lr_rule": config.get("lr_scaling", "none"),
        "paper": (record.get("recipe") or {}).get("paper"),
        "budget_note": (record.get("budget") or {}).get("note", ""),
        "matches_paper": (record.get("budget") or {}).get("matches_paper"),
        "converged": converged(record),
        "at_recipe_batch": _at_recipe_batch(config),
        "full_budget": at_papers_budget(record),
    }


def _what_was_measured(record: dict) -> dict:
    """A trial's outcome columns: status, accuracy, times (and whether under load), memory, size and FLOPs."""
    ok = record["status"] == "ok"
    timing, memory = record.get("timing") or {}, record.get("memory") or {}
    config = record["config"]
    threads = config.get("threads") if config["device"] == "cpu" else None
    epoch_s, loaded = epoch_time_and_load(record.get("epochs") or [], timing.get("epoch_median_s"), threads)
    reached = record.get("time_to_accuracy") or {}
    return {
        "status": record["status"],
        "error": record.get("error"),
        "test_accuracy": record["test"]["accuracy"] if ok else None,
        "chance": 1 / record["dataset"]["num_classes"] if ok else None,
        "epoch_s": epoch_s,
        "first_epoch_s": timing.get("first_epoch_s"),
        "warmup_in_epoch_time": ok and timing.get("steady_epochs") == 0,
        "timing_shared": (record.get("machine") or {}).get("other_trials_max", 0) > 0 or loaded,
        "images_per_s": timing.get("train_images_per_s"),
        "peak_rss_mb": memory.get("peak_rss_bytes", 0) / 2**20 if ok else None,
        "peak_device_mb": _megabytes(memory.get("peak_device_bytes")),
        "tta_s": reached.get("train_seconds"),
        "tta_epoch": reached.get("epoch"),
        "epochs_run": len(record.get("epochs") or []) if ok else None,
        "tta_target": reached.get("target"),
        "params": record["model"]["params_trainable"] + record["model"]["params_non_trainable"] if ok else None,
        "mflops": record["model"]["forward_flops_per_image"] / 1e6 if ok else None,
        "first_lr": record["epochs"][0]["learning_rate"] if ok and record["epochs"] else None,
        **_served(record.get("inference") or {}),
    }


def _served(inference: dict) -> dict:
    """A trial's inference columns: batch-1 latency, throughput and its batch, the path, and whether timed
    under load; None where the record has no inference block (before schema version 5)."""
    return {
        "latency_ms": inference.get("latency_median_ms"),
        "latency_p99_ms": inference.get("latency_p99_ms"),
        "serve_images_per_s": inference.get("throughput_images_per_s"),
        "serve_batch": inference.get("throughput_batch"),
        "serve_path": inference.get("path"),
        "serve_loaded": (inference.get("foreign_cpu_cores") or 0.0) >= FOREIGN_LOAD_CORES,
    }


def configurations(trials: pd.DataFrame) -> pd.DataFrame:
    """Successful trials grouped by configuration: accuracy mean and std over seeds, median timings.

    A repeat of a trial (the same identity run again on the same hardware) is no new evidence about accuracy: it counts
    once there (`repeats` says how many were merged); timing pools every run. A configuration whose
    mean test accuracy is within 2 points of chance did not learn (`learned` False).
    """
    ok = trials[trials["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame()
    repeat = ok.duplicated(["hardware", "trial_key"])  # the same trial on another machine is no repeat
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
        dataset_name=("dataset_name", "first"),
        device=("device", "first"),
        converged=("converged", "all"),
        at_recipe_batch=("at_recipe_batch", "first"),
        full_budget=("full_budget", "all"),
        images_per_s=("images_per_s", "median"),
        params=("params", "first"),
        mflops=("mflops", "first"),
        tta_s=("tta_s", "median"),
        tta_reached=("tta_s", "count"),
        tta_epoch=("tta_epoch", "median"),
        epochs_run=("epochs_run", "median"),
        tta_target=("tta_target", "first"),
        peak_rss_mb=("peak_rss_mb", "max"),
    ).reset_index()
    table["learned"] = learned(table["acc_mean"], table["chance"])
    return table.sort_values(["dataset", "hardware", "model", "framework", "variant", "batch_size"])


def converged(record: dict) -> bool:
    """Whether a trial ran its recipe's whole budget: the recipe's epoch count (or its early stop), the whole
    training split, scored on the whole test set (bench.report.evidence: the rows that may answer)."""
    budget, config = record.get("budget") or {}, record["config"]
    return bool(
        budget.get("full_training_set")
        and budget.get("epochs") == budget.get("paper_epochs")
        and config.get("test_subset") is None
    )


def at_papers_budget(record: dict) -> bool:
    """Whether a trial trained at its paper's own budget: converged under a paper's recipe. Interpretations
    (`recipe.deviations`) do not shorten a budget."""
    return converged(record) and bool((record.get("recipe") or {}).get("paper"))


def published(model: str) -> dict:
    """A model's figures as its paper published them (its spec's `published`); {} when it has none."""
    try:
        return registry.spec(model).published
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


def paper_records(records: list[dict]) -> list[dict]:
    """The successful trials of a paper's recipe that stand beside its published figures: those at the
    recipe's own batch size, or every batch size where a model has none there (a batch sweep's other
    rows stand in the Batch size table); never a grid's other learning rates."""
    runs = [
        r
        for r in records
        if r["status"] == "ok" and (r.get("recipe") or {}).get("paper") and _at_recipe_learning_rate(r["config"])
    ]
    with_own = {r["config"]["model"] for r in runs if _at_recipe_batch(r["config"])}
    return [r for r in runs if _at_recipe_batch(r["config"]) or r["config"]["model"] not in with_own]


def is_papers_recipe(model: str, recipe: str) -> bool:
    """Whether `recipe` is the one the paper that published `model` trained it with."""
    try:
        return get_recipe(recipe).paper == registry.spec(model).paper
    except BenchError:
        return False

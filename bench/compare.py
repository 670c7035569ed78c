"""`python -m bench compare OLD NEW`: a noise-aware regression table between two result sets.

Configurations are matched on what was trained (model, framework and backend, device, batch
size, recipe, epochs, training images, dataset), not on the machine, so two machines can be
compared too. A time change counts only when it passes the threshold *and* the interquartile
ranges of the two sets' steady epoch times do not overlap (the rule asv uses for its
benchmarks); an accuracy change counts only when it passes both 1 point and twice the pooled
standard deviation over seeds. Anything else is "within noise".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench import store

MATCH_KEYS = ["model", "framework", "backend", "device", "batch_size", "recipe", "epochs",
              "train_size", "dataset"]
MIN_ACCURACY_DROP = 0.01  # one percentage point


def _samples(records: list[dict]) -> dict[tuple, dict]:
    """Per configuration: every steady epoch time (first epochs when none) and every test accuracy."""
    groups: dict[tuple, dict] = {}
    for record in records:
        if record["status"] != "ok":
            continue
        config = record["config"]
        key = (config["model"], config["framework"], config.get("keras_backend") or "-", config["device"],
               config["batch_size"], config["recipe"], config["epochs"], record["dataset"]["train_size"],
               record["dataset"]["label"])
        times = [e["epoch_time_s"] for e in record["epochs"]]
        machine = (record.get("settings") or {}).get("device_name") or (record.get("provenance") or {}).get("cpu")
        group = groups.setdefault(key, {"times": [], "accuracies": [], "machines": set()})
        group["machines"].add(machine)
        group["times"] += times[1:] or times
        group["accuracies"].append(record["test"]["accuracy"])
    return groups


def _iqr(values) -> tuple[float, float]:
    q1, q3 = np.percentile(values, [25, 75])
    return float(q1), float(q3)


def time_verdict(old: list[float], new: list[float], threshold: float) -> tuple[float, str]:
    ratio = float(np.median(new) / np.median(old))
    (old_q1, old_q3), (new_q1, new_q3) = _iqr(old), _iqr(new)
    if ratio > threshold and new_q1 > old_q3:
        return ratio, "slower"
    if ratio < 1 / threshold and new_q3 < old_q1:
        return ratio, "faster"
    return ratio, "within noise"


def accuracy_verdict(old: list[float], new: list[float]) -> tuple[float, str]:
    difference = float(np.mean(new) - np.mean(old))
    spread = [np.std(values, ddof=1) for values in (old, new) if len(values) > 1]
    noise = max(MIN_ACCURACY_DROP, 2 * float(np.sqrt(np.mean(np.square(spread)))) if spread else 0.0)
    if difference < -noise:
        return difference, "worse"
    if difference > noise:
        return difference, "better"
    return difference, "within noise"


def _calibration(results_dir) -> dict[tuple, float]:
    """The latest calibration convolution time per (framework, backend, device) of a result set."""
    latest = {}
    for record in store.load_calibrations(results_dir):
        latest[(record["framework"], record.get("keras_backend") or "-", record["device"])] = record["conv_s"]
    return latest


NORMALISED = "epoch time new/old, normalised by calibration (other machine)"


def compare(old_dir, new_dir, threshold: float = 1.10) -> pd.DataFrame:
    old, new = _samples(store.load(old_dir)), _samples(store.load(new_dir))
    old_calibration, new_calibration = _calibration(old_dir), _calibration(new_dir)
    rows = []
    for key in sorted(set(old) & set(new), key=str):
        ratio, time_label = time_verdict(old[key]["times"], new[key]["times"], threshold)
        difference, accuracy_label = accuracy_verdict(old[key]["accuracies"], new[key]["accuracies"])
        machine_key = (key[1], key[2], key[3])
        normalised = None
        if old[key]["machines"] != new[key]["machines"] and machine_key in old_calibration \
                and machine_key in new_calibration:
            normalised = round(ratio * old_calibration[machine_key] / new_calibration[machine_key], 3)
        rows.append({**dict(zip(MATCH_KEYS, key)),
                     "n old/new": f"{len(old[key]['accuracies'])}/{len(new[key]['accuracies'])}",
                     "epoch time new/old": round(ratio, 3), "time": time_label, NORMALISED: normalised,
                     "accuracy new-old (pt)": round(100 * difference, 2), "accuracy": accuracy_label})
    table = pd.DataFrame(rows, columns=[*MATCH_KEYS, "n old/new", "epoch time new/old", "time", NORMALISED,
                                        "accuracy new-old (pt)", "accuracy"])
    return table if table[NORMALISED].notna().any() else table.drop(columns=NORMALISED)


def has_regression(table: pd.DataFrame) -> bool:
    return bool(((table["time"] == "slower") | (table["accuracy"] == "worse")).any())

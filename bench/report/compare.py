"""`python -m bench compare OLD NEW`: a noise-aware regression table between two result sets.

Configurations are matched on what was trained (model, framework and backend, device, batch
size, recipe, epochs, training images, dataset), not on the machine, so two machines can be
compared too. Verdicts follow the project's one noise model (bench.report.statistics): accuracy by
Welch's interval over seeds (and at least 1 point), epoch time by a Mann-Whitney U test over
steady epochs (and at least the threshold); a side with one seed or one run gets "no noise
estimate", never a regression.
"""

from __future__ import annotations

import pandas as pd

from bench.measure.timing import steady_epochs
from bench.report import statistics
from bench.results import store

MATCH_KEYS = ["model", "framework", "backend", "device", "batch_size", "recipe", "epochs", "train_size", "dataset"]
MIN_ACCURACY_CHANGE = 0.01  # one percentage point


def _samples(records: list[dict]) -> dict[tuple, dict]:
    """Per configuration: every steady epoch time (first epochs when none), the number of runs, and one
    test accuracy per trial identity (a repeat of a trial is no new evidence about accuracy)."""
    groups: dict[tuple, dict] = {}
    for record in records:
        if record["status"] != "ok" or (record["config"].get("search") or {}).get("role") == "candidate":
            continue  # a search's candidates are no configuration of their own
        config = record["config"]
        key = (
            config["model"],
            config["framework"],
            config.get("backend") or "-",
            config["device"],
            config["batch_size"],
            config["recipe"],
            config["epochs"],
            record["dataset"]["train_size"],
            record["dataset"]["label"],
        )
        steady = [e["epoch_time_s"] for e, counts in zip(record["epochs"], steady_epochs(record["epochs"])) if counts]
        machine = (record.get("settings") or {}).get("device_name") or (record.get("provenance") or {}).get("cpu")
        group = groups.setdefault(key, {"times": [], "accuracies": {}, "runs": 0, "machines": set()})
        group["machines"].add(machine)
        group["times"] += steady or [e["epoch_time_s"] for e in record["epochs"]]
        group["runs"] += 1
        group["accuracies"].setdefault(store.trial_key(record), record["test"]["accuracy"])
    return groups


def _calibration(results_dir) -> dict[tuple, float]:
    """The latest calibration convolution time per (framework, backend, device) of a result set."""
    latest = {}
    for record in store.load_calibrations(results_dir):
        latest[(record["framework"], record.get("backend") or "-", record["device"])] = record["conv_s"]
    return latest


NORMALISED = "epoch time new/old, normalised by calibration (other machine)"
COLUMNS = [
    *MATCH_KEYS,
    "n old/new",
    "epoch time new/old",
    "Mann-Whitney p",
    "time",
    NORMALISED,
    "accuracy new-old (pt)",
    "95% CI (pt)",
    "accuracy",
]


def compare(old_dir, new_dir, threshold: float = 1.10) -> pd.DataFrame:
    old, new = _samples(store.load(old_dir)), _samples(store.load(new_dir))
    old_calibration, new_calibration = _calibration(old_dir), _calibration(new_dir)
    rows = []
    for key in sorted(set(old) & set(new), key=str):
        before, after = old[key], new[key]
        ratio, p_value, time_label = statistics.time_verdict(
            before["times"], after["times"], before["runs"], after["runs"], threshold
        )
        difference, half, accuracy_label = statistics.accuracy_verdict(
            list(before["accuracies"].values()), list(after["accuracies"].values()), MIN_ACCURACY_CHANGE
        )
        machine_key = (key[1], key[2], key[3])
        normalised = None
        if (
            before["machines"] != after["machines"]
            and machine_key in old_calibration
            and machine_key in new_calibration
        ):
            normalised = round(ratio * old_calibration[machine_key] / new_calibration[machine_key], 3)
        rows.append(
            {
                **dict(zip(MATCH_KEYS, key)),
                "n old/new": f"{len(before['accuracies'])}/{len(after['accuracies'])}",
                "epoch time new/old": round(ratio, 3),
                "Mann-Whitney p": None if p_value is None else round(p_value, 4),
                "time": time_label,
                NORMALISED: normalised,
                "accuracy new-old (pt)": round(100 * difference, 2),
                "95% CI (pt)": None if half != half else round(100 * half, 2),
                "accuracy": accuracy_label,
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table if table[NORMALISED].notna().any() else table.drop(columns=NORMALISED)


def has_regression(table: pd.DataFrame) -> bool:
    return bool(((table["time"] == "slower") | (table["accuracy"] == "worse")).any())

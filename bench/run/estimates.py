"""How long a sweep will take, before it runs (`bench run --dry-run`).

A trial is estimated from earlier trials on this machine (its fingerprint) in the results folders:
- measured: trials of the same model, framework, backend, device, batch size and threads; their median
  training and evaluation seconds per image, at this trial's epochs and split sizes;
- scaled: else trials of another model in the same framework, backend, device and threads, the one whose
  FLOPs per image are nearest (by ratio) to this model's; their median seconds per FLOP, at this model's
  FLOPs (small models use a CPU less well per FLOP than large ones: r2's 15-MFLOP CNN scaled to r3's
  250 MFLOPs read 2.8x slow in Keras);
- calibration: else the calibration's forward-convolution rate, a rough figure (on one 2-core CPU it was
  1.8x slow for torch's r2 CNN and 2.9x fast for Keras's, as it times no backward pass).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from bench.measure.calibration import TRIAL_OVERHEAD_S, estimate_seconds
from bench.measure.provenance import machine_fingerprint
from bench.spec.execution import Execution

MIN_TIMED_IMAGES = 10_000  # training images from which a trial's epoch time is mostly per-image work


@dataclass(frozen=True)
class Rate:
    """Seconds per image of an earlier trial: in a training epoch, and scoring (validation)."""

    train_s: float
    eval_s: float


def _getter(config):
    return config.get if isinstance(config, dict) else lambda name: getattr(config, name)


def engine_key(config) -> tuple:
    """Where per-FLOP times carry over between models: framework, backend, device and threads."""
    get = _getter(config)
    return (get("framework"), get("backend"), get("device"), get("threads"))


def rate_key(config) -> tuple:
    """What makes two trials' per-image times comparable on one machine (a TrialConfig or a record's config):
    the model, batch size, image size, speed options and engine."""
    get = _getter(config)
    execution = get("execution") if not isinstance(config, dict) else Execution.of(config)
    return (get("model"), get("batch_size"), get("image_size"), execution.label(), *engine_key(config))


def _median_rate(found: list[Rate]) -> Rate:
    return Rate(statistics.median(r.train_s for r in found), statistics.median(r.eval_s for r in found))


def measured_rates(records: list[dict], provenance: dict) -> tuple[dict[tuple, Rate], dict[tuple, dict]]:
    """From the ok trials run on this machine: per-image times by rate_key, and per-FLOP times (a training
    image counted as 3 forward passes, a scored one as 1) by engine_key, then by FLOPs per image; medians."""
    here = machine_fingerprint(provenance)
    per_image: dict[tuple, list[Rate]] = {}
    per_flop: dict[tuple, dict[int, list[Rate]]] = {}
    for record in records:
        rate = _record_rate(record)
        if rate is None or machine_fingerprint(record.get("provenance") or {}) != here:
            continue
        flops = record["model"]["forward_flops_per_image"]
        per_image.setdefault(rate_key(record["config"]), []).append(rate)
        flop_rate = Rate(rate.train_s / 3 / flops, rate.eval_s / flops)
        per_flop.setdefault(engine_key(record["config"]), {}).setdefault(flops, []).append(flop_rate)
    return (
        {key: _median_rate(found) for key, found in per_image.items()},
        {key: {flops: _median_rate(found) for flops, found in by_flops.items()} for key, by_flops in per_flop.items()},
    )


def _record_rate(record: dict) -> Rate | None:
    """A record's training and evaluation seconds per image; None for a failed trial, one without them, or one
    too small to time (its fixed costs per epoch would read as per-image time)."""
    dataset, epochs = record.get("dataset") or {}, record.get("epochs") or []
    epoch_s = (record.get("timing") or {}).get("epoch_median_s")
    evals = [epoch["eval_time_s"] for epoch in epochs if epoch.get("eval_time_s") is not None]
    if record.get("status") != "ok" or not epoch_s or not evals or not dataset.get("val_size"):
        return None
    if dataset["train_size"] < MIN_TIMED_IMAGES:
        return None
    return Rate(epoch_s / dataset["train_size"], statistics.median(evals) / dataset["val_size"])


def trial_seconds(
    trial, sizes: tuple[int, int, int], rates: tuple[dict, dict], calibration: dict | None, forward_flops: int
) -> tuple[float | None, str]:
    """A trial's wall time and its basis (measured, scaled or calibration; see the module); None and "?" where
    none is known. `sizes`: training, validation and test images; `rates`: measured_rates's pair."""
    per_image, per_flop = rates
    rate, basis = per_image.get(rate_key(trial)), "measured"
    if rate is None and engine_key(trial) in per_flop:
        by_flops = per_flop[engine_key(trial)]
        nearest = min(by_flops, key=lambda flops: abs(math.log(flops / forward_flops)))
        flop_rate, basis = by_flops[nearest], "scaled"
        rate = Rate(3 * forward_flops * flop_rate.train_s, forward_flops * flop_rate.eval_s)
    if rate is not None:
        train, val, test = sizes
        seconds = trial.epochs * (train * rate.train_s + val * rate.eval_s) + test * rate.eval_s
        return seconds + TRIAL_OVERHEAD_S, basis
    if calibration is None:
        return None, "?"
    return estimate_seconds(calibration, forward_flops, trial.epochs, *sizes), "calibration"

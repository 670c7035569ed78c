"""Measurement helpers: epoch summaries, time to accuracy, compute, lr scaling, compare's verdicts."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.measure import metrics, peak_flops
from bench.measure.load import ForeignLoad, own_seconds
from bench.measure.timing import summarise_epochs, warm_up_epochs
from bench.report import statistics
from bench.run.trial import compute, time_to_accuracy
from bench.spec.config import TrialConfig


def test_first_epoch_is_kept_apart_from_the_steady_median():
    summary = summarise_epochs([9.0, 2.0, 3.0, 4.0, 100.0], images_per_epoch=1000)
    assert summary["first_epoch_s"] == 9.0
    assert summary["epoch_median_s"] == 3.5 and summary["steady_epochs"] == 4
    assert summary["epoch_iqr_s"] == pytest.approx(28.0 - 2.75)
    assert summary["train_images_per_s"] == pytest.approx(1000 / 3.5)


def test_a_single_epoch_says_it_has_no_steady_state():
    summary = summarise_epochs([5.0], images_per_epoch=10)
    assert summary["epoch_median_s"] == 5.0 and summary["steady_epochs"] == 0


def test_time_to_accuracy_counts_training_time_until_the_first_epoch_at_target():
    epochs = [
        {"epoch": 1, "epoch_time_s": 10.0, "eval_time_s": 1.0, "val_accuracy": 0.4},
        {"epoch": 2, "epoch_time_s": 8.0, "eval_time_s": 1.0, "val_accuracy": 0.61},
        {"epoch": 3, "epoch_time_s": 8.0, "eval_time_s": 1.0, "val_accuracy": 0.7},
    ]
    reached = time_to_accuracy(epochs, 0.6)
    assert (reached["epoch"], reached["train_seconds"], reached["wall_seconds"]) == (2, 18.0, 20.0)
    assert time_to_accuracy(epochs, 0.9)["epoch"] is None
    elsewhere = [{**epoch, "machine": "other"} for epoch in epochs[:1]] + [{**e, "machine": "here"} for e in epochs[1:]]
    resumed = time_to_accuracy(elsewhere, 0.6, epoch_median_s=8.0)  # epoch 1 ran on another machine: 8 s here
    assert (resumed["epoch"], resumed["train_seconds"], resumed["wall_seconds"]) == (2, 16.0, 18.0)


def test_compute_share_of_peak_only_for_known_devices():
    known = compute(1_000_000, 100, 1.0, {"device_name": "NVIDIA H100 80GB HBM3", "precision": "bfloat16"})
    assert known["train_flops_per_epoch"] == 300_000_000
    assert known["share_of_peak"] == pytest.approx(3e8 / 989e12)
    unknown = compute(1_000_000, 100, 1.0, {"device_name": None, "precision": "float32"})
    assert unknown["share_of_peak"] is None and unknown["achieved_tflops"] == pytest.approx(3e-4)
    assert peak_flops.peak_tflops("NVIDIA A100-SXM4-40GB", "tf32") == 156.0


@pytest.mark.parametrize("rule, factor", [("none", 1.0), ("linear", 4.0), ("sqrt", 2.0)])
def test_lr_scaling_is_relative_to_the_recipes_batch_size(rule, factor):
    config = TrialConfig(
        model="r2_vanilla_cnn", framework="torch", device="cpu", batch_size=512, seed=0, epochs=1, lr_scaling=rule
    )
    assert config.resolved_recipe().learning_rate == pytest.approx(1e-3 * factor)
    other = TrialConfig(**{**config.__dict__, "lr_scaling": "none" if rule != "none" else "linear"})
    assert other.trial_id != config.trial_id


def test_time_verdicts_need_a_mann_whitney_difference_and_the_threshold():
    base = [10.0, 10.2, 9.8, 10.1, 10.05, 9.95]
    assert statistics.time_verdict(base, base, 2, 2, 1.1)[2] == "within noise"
    assert statistics.time_verdict(base, [12.0, 12.3, 11.9, 12.1, 12.2, 11.8], 2, 2, 1.1)[2] == "slower"
    assert statistics.time_verdict(base, [8.0, 8.1, 7.9, 8.2, 8.05, 7.95], 2, 2, 1.1)[2] == "faster"
    assert statistics.time_verdict(base, [10.4, 10.5, 10.6, 10.45, 10.55, 10.5], 2, 2, 1.1)[2] == "within noise"
    noisy = [7.0, 14.0, 9.0, 16.0, 8.0, 15.0]
    assert statistics.time_verdict(base, noisy, 2, 2, 1.1)[2] == "within noise"
    # One run on a side: its epochs share one machine state, so no verdict, whatever the ratio.
    ratio, p_value, verdict = statistics.time_verdict(base, [12.0, 12.3, 11.9, 12.1], 1, 1, 1.1)
    assert verdict == "no noise estimate" and p_value is None and ratio > 1.1


def test_accuracy_verdicts_use_welch_over_seeds_and_need_two_seeds_a_side():
    assert statistics.accuracy_verdict([0.70, 0.71, 0.69], [0.70, 0.705, 0.695])[2] == "within noise"
    difference, half, verdict = statistics.accuracy_verdict([0.70, 0.71, 0.69], [0.60, 0.61, 0.59])
    assert verdict == "worse" and math.isclose(difference, -0.10) and 0 < half < 0.1
    assert statistics.accuracy_verdict([0.70, 0.71, 0.69], [0.702, 0.712, 0.692], minimum=0.01)[2] == "within noise"
    difference, half, verdict = statistics.accuracy_verdict([0.5], [0.52])
    assert verdict == "no noise estimate" and math.isclose(difference, 0.02) and math.isnan(half)


@settings(max_examples=60, deadline=None)
@given(classes=st.integers(2, 12), data=st.data())
def test_confusion_matrix_and_macro_f1_equal_scikit_learns(classes, data):
    sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="SKIPPED: scikit-learn (the reference) is absent")
    labels = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=1, max_size=60)))
    predicted = np.array(data.draw(st.lists(st.integers(0, classes - 1), min_size=len(labels), max_size=len(labels))))
    everything = np.arange(classes)
    matrix = metrics.confusion_matrix(labels, predicted, classes)
    np.testing.assert_array_equal(matrix, sklearn_metrics.confusion_matrix(labels, predicted, labels=everything))
    assert metrics.macro_f1(matrix) == pytest.approx(
        sklearn_metrics.f1_score(labels, predicted, labels=everything, average="macro", zero_division=0)
    )


SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"


def test_another_process_busy_beside_a_timed_block_is_foreign_load():
    import subprocess
    import sys

    spinner = subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=3)])
    try:
        time.sleep(0.5)  # the spinner past its start-up
        with ForeignLoad() as load:
            time.sleep(1.5)
    finally:
        spinner.kill()
        spinner.wait()
    assert load.cores >= 0.5  # the spinner took most of a core while this process slept


def test_a_child_the_trial_waits_for_is_its_own_work_not_foreign():
    import subprocess
    import sys

    import psutil

    before = own_seconds(psutil.Process())
    subprocess.run([sys.executable, "-c", "import time\nwhile time.process_time() < 0.6: pass"], check=True)
    assert own_seconds(psutil.Process()) - before >= 0.5  # counted in clock ticks: 0.59 seen


def test_a_record_is_timed_under_load_by_its_steady_epochs():
    from bench.measure.load import FOREIGN_LOAD_CORES, MIN_QUIET_EPOCHS, epoch_time_and_load

    def epoch(seconds, cores):
        return {"epoch_time_s": seconds, "foreign_cpu_cores": cores}

    quiet, loaded = epoch(10.0, 0.01), epoch(30.0, FOREIGN_LOAD_CORES)
    assert epoch_time_and_load([loaded, quiet, quiet], 10.0) == (10.0, False)  # the first epoch is not timed
    assert epoch_time_and_load([quiet, quiet, loaded], 20.0) == (20.0, True)  # too few quiet epochs: marked
    assert epoch_time_and_load([loaded], 30.0) == (30.0, True)
    many = [quiet] + [epoch(10.0 + i, 0.01) for i in range(MIN_QUIET_EPOCHS)] + [loaded] * 4
    assert epoch_time_and_load(many, 25.0) == (12.0, False)  # a long trial keeps its quiet epochs' median
    assert epoch_time_and_load([{"epoch": 1}, {"epoch": 2}], 9.0) == (9.0, False)  # before load was measured


def test_a_block_that_computes_keeps_its_own_cpu_busy_and_one_that_waits_does_not():
    with ForeignLoad() as computing:
        deadline = time.perf_counter() + 0.5
        while time.perf_counter() < deadline:
            pass
    with ForeignLoad() as waiting:
        time.sleep(0.5)
    assert waiting.own_cores < 0.1 < 0.3 < computing.own_cores  # a busy loop beside others still gets a core's share


def test_a_cpu_epoch_idle_in_its_framework_counts_as_stalled_and_leaves_the_quiet_median():
    from bench.measure.load import MIN_QUIET_EPOCHS, STALL_SHARE, epoch_time_and_load, stalled

    def epoch(seconds, own):
        return {"epoch_time_s": seconds, "foreign_cpu_cores": 0.0, "own_cpu_cores": own}

    busy, idle = epoch(21.0, 1.9), epoch(41.9, 0.95)  # r2_tuned_cnn's Keras epochs: 20 s of the 41.9 idle
    assert not stalled(busy, threads=2) and stalled(idle, threads=2) and 0.95 < STALL_SHARE * 2
    assert not stalled(idle, threads=None)  # a GPU trial's host threads wait by design
    assert not stalled({"epoch_time_s": 41.9}, threads=2)  # from before own CPU was measured
    alternating = [busy] + [busy, idle] * MIN_QUIET_EPOCHS
    assert epoch_time_and_load(alternating, 31.0, threads=2) == (21.0, False)  # the stalled epochs left out
    assert epoch_time_and_load([busy, busy, idle], 31.0, threads=2) == (31.0, True)  # too few: the median, marked
    assert epoch_time_and_load([busy, busy, idle], 31.0) == (31.0, False)  # without threads: no stall known


def test_a_dry_run_estimates_from_earlier_trials_on_this_machine_before_the_calibration():
    from types import SimpleNamespace

    from bench.run.estimates import measured_rates, trial_seconds
    from bench.spec.execution import Execution

    here, elsewhere = {"cpu": "this CPU", "cpu_cores_logical": 2}, {"cpu": "another CPU", "cpu_cores_logical": 2}
    engine = {"framework": "torch", "backend": None, "device": "cpu", "threads": 2}

    def record(model, epoch_s, provenance, train_size=45000, flops=1_000_000):
        return {
            "status": "ok",
            "config": {"model": model, "batch_size": 64, **engine},
            "provenance": provenance,
            "dataset": {"train_size": train_size, "val_size": 5000},
            "timing": {"epoch_median_s": epoch_s},
            "epochs": [{"eval_time_s": 1.0}, {"eval_time_s": 1.0}],
            "model": {"forward_flops_per_image": flops},
        }

    records = [record("a", 45.0, here), record("a", 4500.0, elsewhere), record("b", 9.0, here, train_size=500)]
    records.append(record("d", 90.0, here, flops=8_000_000))  # 8x a's FLOPs in 2x its time: better used
    rates = measured_rates(records, here)
    sizes, calibration = (45000, 5000, 10000), {"conv_s": 1.0}

    def trial(model, batch_size=64):
        return SimpleNamespace(
            model=model, batch_size=batch_size, epochs=2, image_size=None, execution=Execution(), **engine
        )

    seconds, basis = trial_seconds(trial("a"), sizes, rates, calibration, 1_000_000)
    # 1 s per 5,000 scored images, 15 s to start
    assert basis == "measured" and seconds == pytest.approx(2 * (45.0 + 1.0) + 2.0 + 15.0)
    seconds, basis = trial_seconds(trial("c"), sizes, rates, calibration, 2_000_000)  # twice a's FLOPs
    assert basis == "scaled" and seconds == pytest.approx(2 * (90.0 + 2.0) + 4.0 + 15.0)  # a's the nearest
    seconds, basis = trial_seconds(trial("e"), sizes, rates, calibration, 4_000_000)  # d's half (a's 4x)
    assert basis == "scaled" and seconds == pytest.approx(2 * (45.0 + 0.5) + 1.0 + 15.0)
    assert trial_seconds(trial("c"), sizes, ({}, {}), None, 1)[1] == "?"
    assert trial_seconds(trial("c"), sizes, ({}, {}), calibration, 1)[1] == "calibration"


def test_a_recipe_that_resizes_its_input_is_counted_at_the_resized_size():
    # The trial, the sweep's size check and the dry run's FLOPs read one layer list, the recipe's Resize first.
    from bench.spec import layers, registry

    resized = registry.layers("r2_vanilla_cnn", 10, resize=64)
    assert isinstance(resized[0], layers.Resize) and resized[1:] == registry.layers("r2_vanilla_cnn", 10)
    at_64 = layers.forward_flops(registry.layers("r2_vanilla_cnn", 10), (64, 64, 3))
    assert layers.forward_flops(resized, (32, 32, 3)) == at_64 > 3 * layers.forward_flops(resized[1:], (32, 32, 3))


def test_inference_times_batch_one_and_the_largest_batch_that_fits(monkeypatch):
    from bench.measure import inference

    monkeypatch.setenv("CNNBENCH_INFERENCE_SECONDS", "0.001")  # the full procedure, briefly

    class OutOfMemory(Exception):
        pass

    seen = []

    def serve(images):
        seen.append(len(images))
        if len(images) > 64:
            raise OutOfMemory
        return np.zeros((len(images), 10), np.float32)

    images = np.zeros((300, 8, 8, 3), np.uint8)
    result = inference.measure(serve, images, lambda error: isinstance(error, OutOfMemory))
    assert result["throughput_batch"] == 64 and result["batches_out_of_memory"] == [256]
    assert result["latency_calls"] >= inference.MIN_LATENCY_CALLS and 0 <= result["latency_median_ms"]
    assert result["latency_median_ms"] <= result["latency_p99_ms"] and result["throughput_images_per_s"] > 0
    assert 16 not in seen  # the ladder stops at the first batch that fits
    monkeypatch.setenv("CNNBENCH_INFERENCE_SECONDS", "0")
    few = inference.measure(serve, images[:20], lambda error: isinstance(error, OutOfMemory))
    assert few["throughput_batch"] == 16 and few["latency_calls"] == 3  # no batch larger than the images
    with pytest.raises(ValueError):  # any other error is the trial's failure, not a smaller batch
        inference.measure(lambda images: (_ for _ in ()).throw(ValueError("broken")), images, lambda e: False)


def test_scores_are_sklearns_accuracy_log_loss_recall_and_confusion_matrix():
    sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="SKIPPED: scikit-learn (the reference) is absent")
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=3.0, size=(200, 4)).astype(np.float32) + 500.0  # large: the stable softmax matters
    labels = rng.integers(0, 4, 200)
    names = ("a", "b", "c", "d")
    scored = metrics.scores(logits, labels, names)
    predicted = logits.argmax(axis=1)
    shifted = np.exp(logits.astype(np.float64) - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    assert scored["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(labels, predicted), abs=0)
    assert scored["accuracy"] == metrics.accuracy(logits, labels)
    assert scored["loss"] == pytest.approx(sklearn_metrics.log_loss(labels, probabilities, labels=range(4)), rel=1e-9)
    assert scored["macro_f1"] == pytest.approx(sklearn_metrics.f1_score(labels, predicted, average="macro"), rel=1e-12)
    recall = sklearn_metrics.recall_score(labels, predicted, average=None)
    assert list(scored["per_class_accuracy"]) == list(names)
    assert list(scored["per_class_accuracy"].values()) == pytest.approx(recall, rel=1e-12)
    assert scored["confusion_matrix"] == sklearn_metrics.confusion_matrix(labels, predicted).tolist()


def test_a_class_never_seen_has_accuracy_0_not_a_division_by_zero():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    scored = metrics.scores(logits, np.array([0, 0]), ("a", "b", "c"))
    assert scored["per_class_accuracy"] == {"a": 0.5, "b": 0.0, "c": 0.0}


def test_peak_rss_sees_memory_held_inside_the_block_and_not_after():
    from bench.measure.memory import PeakRSS

    with PeakRSS(interval=0.01) as outside:
        pass
    with PeakRSS(interval=0.01) as probe:
        held = np.ones(300 * 2**20 // 8)  # 300 MiB, touched
        time.sleep(0.1)
        del held
    assert probe.peak_bytes >= outside.peak_bytes + 250 * 2**20
    assert not probe._thread.is_alive()


def test_each_process_of_a_resumed_trial_warms_up_apart_from_the_steady_epochs():
    epochs = [{"process": p} for p in (1, 1, 2, 2, 2, 3)]
    assert warm_up_epochs(epochs) == [True, False, True, False, False, True]
    assert warm_up_epochs([{}, {}, {}]) == [True, False, False]  # records before processes were recorded
    summary = summarise_epochs([9.0, 2.0, 8.0, 3.0, 4.0, 7.0], 1000, warm_up_epochs(epochs))
    assert summary["first_epoch_s"] == 9.0 and summary["steady_epochs"] == 3 and summary["epoch_median_s"] == 3.0
    empty = summarise_epochs([], 1000)
    assert empty == {
        "first_epoch_s": None,
        "epoch_median_s": None,
        "epoch_iqr_s": None,
        "steady_epochs": 0,
        "train_images_per_s": None,
    }


def test_a_trial_resumed_on_another_machine_is_timed_on_its_last_machine_alone():
    from bench.measure.load import epoch_time_and_load
    from bench.measure.timing import steady_epochs
    from bench.run.trial import phase_timing

    runs = (
        [(1, "xeon", 9.0)] + [(1, "xeon", 5.0)] * 5 + [(2, "epyc", 8.0)] + [(2, "epyc", 2.0)] * 5 + [(2, "epyc", 3.0)]
    )
    epochs = [{"process": p, "machine": m, "epoch_time_s": t, "foreign_cpu_cores": 0.0} for p, m, t in runs]
    assert steady_epochs(epochs) == [False] * 7 + [True] * 6
    # what the row publishes: the last machine's steady median (2.0), never one across both machines (3.0)
    assert phase_timing(None, epochs, 1000)["epoch_median_s"] == 2.0
    epochs[-1]["foreign_cpu_cores"] = 1.0  # one loaded epoch: the report keeps the last machine's quiet ones
    assert epoch_time_and_load(epochs, recorded_median=2.0) == (2.0, False)
    before = [{k: v for k, v in e.items() if k != "machine"} for e in epochs[:6]]  # from before machines were named
    assert steady_epochs(before + epochs[6:]) == steady_epochs(epochs)
    assert steady_epochs(before) == [False] + [True] * 5
    # one epoch on the new machine, its warm-up: the row says so, and never falls back on the old machine's
    just_moved = epochs[:7]
    summary = phase_timing(None, just_moved, 1000)
    assert (summary["epoch_median_s"], summary["first_epoch_s"], summary["steady_epochs"]) == (8.0, 8.0, 0)
    assert epoch_time_and_load(just_moved, recorded_median=8.0) == (8.0, False)


def test_the_machines_busy_seconds_count_this_processs_own_computing():
    from bench.measure.load import machine_busy_seconds

    before, started = machine_busy_seconds(), time.process_time()
    while time.process_time() - started < 0.5:
        pass
    assert machine_busy_seconds() - before >= 0.4  # clock ticks of 10 ms: user time at least


def test_foreign_load_is_the_machines_busy_time_less_this_processs_over_the_wall_time(monkeypatch):
    from bench.measure import load

    clock = {"wall": 100.0, "busy": 1000.0, "own": 50.0}
    monkeypatch.setattr(load.time, "perf_counter", lambda: clock["wall"])
    monkeypatch.setattr(load, "machine_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(load, "own_seconds", lambda process: clock["own"])
    with load.ForeignLoad() as measured:
        assert math.isnan(measured.cores)  # no figure before the block ends
        clock.update(wall=104.0, busy=1010.0, own=56.0)  # 4 s: 10 busy core-seconds, 6 of them this process's
    assert measured.cores == pytest.approx(1.0) and measured.own_cores == pytest.approx(1.5)
    with load.ForeignLoad() as quiet:
        clock.update(wall=106.0, busy=1011.0, own=57.5)  # counters of different ticks: never below 0
    assert quiet.cores == 0.0


def test_a_block_no_clock_tick_long_took_no_foreign_load(monkeypatch):
    from bench.measure import load

    monkeypatch.setattr(load.time, "perf_counter", lambda: 5.0)  # the wall clock did not move
    monkeypatch.setattr(load, "machine_busy_seconds", lambda: 1.0)
    monkeypatch.setattr(load, "own_seconds", lambda process: 0.0)
    with load.ForeignLoad() as instant:
        pass
    assert instant.cores == 0.0  # not a division by zero


def test_cross_entropy_shifts_each_row_by_its_own_largest_logit():
    logits = np.array([[1000.0, 0.0], [0.0, 1.0]])  # one row's largest logit dwarfs the other row's
    expected = np.mean([np.logaddexp(0.0, -1000.0), np.logaddexp(0.0, -1.0)])  # -log softmax of the labels
    assert metrics.cross_entropy(logits, np.array([0, 1])) == pytest.approx(expected, rel=1e-12)


def test_the_calibrated_estimate_is_the_trials_flops_at_the_calibration_rate_plus_the_overhead():
    from bench.measure.calibration import CONV_FLOPS, TRIAL_OVERHEAD_S, estimate_seconds

    calibration = {"conv_s": 0.5}  # the calibration convolution's seconds: CONV_FLOPS per 0.5 s
    flops = 1_000_000 * (3 * 100 * 2 + 20 * 2 + 50)  # training 3x forward, validation every epoch, the test once
    expected = flops * 0.5 / CONV_FLOPS + TRIAL_OVERHEAD_S
    assert estimate_seconds(calibration, 1_000_000, 2, 100, 20, 50) == pytest.approx(expected, rel=1e-12)

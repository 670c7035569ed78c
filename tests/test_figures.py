"""Each figure the benchmark publishes, observed: the synchronised timer, inference latency and throughput, the
speed options in force while training, airbench's whitened first conv and test-time augmentation. Each test
fails when its figure is wrong, not merely when it is missing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.frameworks import missing_framework
from bench.measure import inference, timing
from bench.run import tta
from bench.spec.execution import Execution
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS


class FakeDevice:
    """A device that queues work and finishes it only when synchronised, on a clock of its own (seconds)."""

    def __init__(self):
        self.now, self.queued = 0.0, 0.0

    def perf_counter(self) -> float:
        return self.now

    def launch(self, seconds: float) -> None:
        self.queued += seconds  # returns at once, as a CUDA kernel launch does

    def synchronize(self) -> None:
        self.now, self.queued = self.now + self.queued, 0.0


@pytest.fixture
def device(monkeypatch) -> FakeDevice:
    fake = FakeDevice()
    monkeypatch.setattr(timing, "time", fake)
    monkeypatch.setattr(inference, "time", fake)
    return fake


def test_the_timer_waits_for_earlier_work_before_it_starts_and_for_its_own_before_it_stops(device):
    device.launch(5.0)  # queued before the timer: not its time
    with timing.SyncedTimer(device.synchronize) as timer:
        device.launch(2.0)  # queued inside: its time, finished only at the synchronisation
        assert math.isnan(timer.seconds)  # no figure before it stops
    assert timer.seconds == 2.0


def test_latency_is_in_milliseconds_and_throughput_is_images_per_second_of_the_median_call(device, monkeypatch):
    monkeypatch.setenv("CNNBENCH_INFERENCE_SECONDS", "0")

    def serve(batch: np.ndarray) -> np.ndarray:  # 10 ms a call and 0.1 ms an image, finished at once
        device.now += 0.010 + 0.0001 * len(batch)
        return np.zeros((len(batch), 10), np.float32)

    measured = inference.measure(serve, np.zeros((300, 8, 8, 3), np.uint8), lambda error: False)
    assert measured["latency_median_ms"] == pytest.approx(10.1) and measured["latency_p99_ms"] == pytest.approx(10.1)
    assert measured["throughput_batch"] == 256
    assert measured["throughput_images_per_s"] == pytest.approx(256 / (0.010 + 0.0256))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_serving_path_returns_what_the_scoring_path_returns(in_framework):
    served, predicted = in_framework(jobs.served_and_predicted)
    np.testing.assert_allclose(served, predicted, rtol=1e-5, atol=1e-5)


# The fast loader's NHWC images, permuted, reach the first conv with channels-last strides: activations are
# channels-last by default, and --channels-last makes the weights so too. The record says which.
FORMATS = ("conv_input_channels_last", "conv_weight_channels_last", "conv_output_channels_last", "recorded_format")
SPEED_OPTIONS = [
    pytest.param(
        Execution(),
        {
            "conv_output_dtype": "float32",
            **dict(zip(FORMATS, (True, False, True, "channels_last activations, channels_first weights"))),
        },
        id="defaults",
    ),
    pytest.param(Execution(amp="bf16"), {"conv_output_dtype": "bfloat16"}, id="bf16"),
    pytest.param(Execution(channels_last=True), dict(zip(FORMATS, (True, True, True, "channels_last"))), id="cl"),
    pytest.param(Execution(fused_optimizer=True), {"fused_adam_calls": 2}, id="fused"),  # 16 images, batch 8
]


@pytest.mark.skipif(bool(missing_framework("torch")), reason=f"FRAMEWORK SKIPPED: {missing_framework('torch')}")
@pytest.mark.parametrize("framework", ["torch"])
@pytest.mark.parametrize("execution, observed", SPEED_OPTIONS)
def test_torch_speed_options_are_in_force_while_training(in_framework, execution, observed):
    seen = in_framework(jobs.options_in_force, execution)
    assert {key: seen[key] for key in observed} == observed
    if not execution.fused_optimizer:
        assert seen["fused_adam_calls"] == 0


@pytest.mark.skipif(bool(missing_framework("torch")), reason=f"FRAMEWORK SKIPPED: {missing_framework('torch')}")
@pytest.mark.parametrize("framework", ["torch"])
def test_torch_compile_makes_and_runs_a_graph(in_framework):
    assert in_framework(jobs.compiled_graphs_run) >= 1


@pytest.mark.skipif(bool(missing_framework("keras")), reason=f"FRAMEWORK SKIPPED: {missing_framework('keras')}")
@pytest.mark.parametrize("framework", ["keras"])
def test_keras_mixed_precision_computes_its_convolutions_in_bfloat16(in_framework):
    assert in_framework(jobs.options_in_force, Execution(amp="bf16"))["conv_output_dtype"] == "bfloat16"
    assert in_framework(jobs.options_in_force, Execution())["conv_output_dtype"] == "float32"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_airbench_keeps_the_whitening_in_its_first_conv_and_scores_the_weighted_views(in_framework):
    seen = in_framework(jobs.airbench_after_training)
    np.testing.assert_allclose(seen["before"], seen["expected"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(seen["after"], seen["before"])  # frozen through training
    assert seen["scored_loss"] == pytest.approx(seen["views_loss"], rel=1e-5)
    assert abs(seen["views_loss"] - seen["plain_loss"]) > 1e-4  # the views changed what was scored


def test_inference_calls_warm_up_then_time_at_least_the_minimum_for_the_budget(device, monkeypatch):
    calls = []

    def serve(batch: np.ndarray) -> np.ndarray:  # 10 ms a call, finished at once
        calls.append(len(batch))
        device.now += 0.010
        return np.zeros((len(batch), 10), np.float32)

    monkeypatch.setenv("CNNBENCH_INFERENCE_SECONDS", "0.25")  # 25 calls of 10 ms: more than the minimum
    measured = inference.measure(serve, np.zeros((256, 8, 8, 3), np.uint8), lambda error: False)
    warm_up = inference.WARMUP_CALLS
    assert measured["latency_calls"] == 25 and calls[: warm_up + 25] == [1] * (warm_up + 25)
    assert calls[warm_up + 25 :] == [256] * (warm_up + 25)  # as many, each as long: the same budget
    calls.clear()
    monkeypatch.setenv("CNNBENCH_INFERENCE_SECONDS", "0")  # the suite's: one warm-up, the fewest timed calls
    measured = inference.measure(serve, np.zeros((256, 8, 8, 3), np.uint8), lambda error: False)
    assert calls == [1, 1, 1, 1, 256, 256] and measured["latency_calls"] == 3


@pytest.mark.parametrize("images, batch", [(256, 256), (255, 64), (3, 4)])
def test_the_throughput_batch_is_the_largest_rung_the_images_fill_or_the_smallest(device, images, batch):
    def serve(served: np.ndarray) -> np.ndarray:
        device.now += 0.001
        return np.zeros((len(served), 10), np.float32)

    measured = inference.measure(serve, np.zeros((images, 8, 8, 3), np.uint8), lambda error: False)
    assert measured["throughput_batch"] == batch


def test_the_down_right_view_is_shifted_one_pixel_over_reflect_padding_to_its_far_edges():
    images = np.arange(2 * 6 * 5 * 3, dtype=np.uint8).reshape(2, 6, 5, 3)
    down_right = tta.views(images, "flip-translate")[4][1]
    assert down_right.shape == images.shape
    np.testing.assert_array_equal(down_right[:, :5, :4], images[:, 1:, 1:])
    np.testing.assert_array_equal(down_right[:, 5, :4], images[:, 4, 1:])  # the last row reflects the last but one
    np.testing.assert_array_equal(down_right[:, :5, 4], images[:, 1:, 3])

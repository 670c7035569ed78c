"""Inference as users deploy a trained model: latency of one image per call, and throughput at the largest batch
that fits, on the device the model trained on, by the framework's serving path (`Adapter.serve`).

Latency: after warm-up calls (tracing and compilation apart), calls of one image for about LATENCY_SECONDS
(at least MIN_LATENCY_CALLS): the median and the 99th percentile. Throughput: the ladder's largest batch first
(smaller ones only where it runs out of memory, and none larger than the images given), timed the same way;
images per second of its median call. $CNNBENCH_INFERENCE_SECONDS shortens both (the test suite's 0: one
warm-up call and the fewest timed ones); the record says how many calls were timed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

LADDER = (256, 64, 16, 4)  # tried largest first: the first that fits gives the throughput
WARMUP_CALLS = 3
LATENCY_SECONDS = 2.0
THROUGHPUT_SECONDS = 1.0
MIN_LATENCY_CALLS = 20
MIN_THROUGHPUT_CALLS = 3


def budget_seconds() -> tuple[float, float]:
    """Seconds of latency and of throughput calls: the defaults, or $CNNBENCH_INFERENCE_SECONDS for each."""
    override = os.environ.get("CNNBENCH_INFERENCE_SECONDS")
    return (float(override), float(override)) if override else (LATENCY_SECONDS, THROUGHPUT_SECONDS)


def timed_calls(call: Callable[[], object], seconds: float, min_calls: int) -> list[float]:
    """Seconds of each call after the warm-up, for `seconds` and at least `min_calls` calls."""
    for _ in range(WARMUP_CALLS if seconds > 0 else 1):
        call()
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
    return times


def measure(
    serve: Callable[[np.ndarray], np.ndarray], images: np.ndarray, is_oom: Callable[[BaseException], bool]
) -> dict:
    """Batch-1 latency and the throughput of the largest ladder batch that fits, serving `images` (uint8 NHWC),
    no batch larger than them (the smallest rung where fewer are given)."""
    latency_seconds, throughput_seconds = budget_seconds()
    quick = latency_seconds == 0  # the test suite's: figures from the fewest calls
    latencies = timed_calls(lambda: serve(images[:1]), latency_seconds, 3 if quick else MIN_LATENCY_CALLS)
    result = {
        "latency_median_ms": 1000 * float(np.median(latencies)),
        "latency_p99_ms": 1000 * float(np.percentile(latencies, 99)),
        "latency_calls": len(latencies),
        "throughput_batch": None,
        "throughput_images_per_s": None,
        "batches_out_of_memory": [],
    }
    for batch_size in [size for size in LADDER if size <= len(images)] or [LADDER[-1]]:
        batch = np.resize(images, (batch_size, *images.shape[1:]))
        try:
            calls = 1 if quick else MIN_THROUGHPUT_CALLS
            times = timed_calls(lambda batch=batch: serve(batch), throughput_seconds, calls)
        except Exception as error:  # noqa: BLE001 - only the framework's out-of-memory error moves down the ladder
            if not is_oom(error):
                raise
            result["batches_out_of_memory"].append(batch_size)
            continue
        result.update(throughput_batch=batch_size, throughput_images_per_s=batch_size / float(np.median(times)))
        break
    return result

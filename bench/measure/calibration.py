"""A fixed small workload timed in each framework before a sweep, so `compare` can normalise
results from two different machines by how fast each ran the same matmul and convolution.

Run as `python -m bench.measure.calibration FRAMEWORK DEVICE THREADS` (one process per framework, like a
trial); prints one JSON object. The ops are each adapter's `calibration_workload`; each figure is the
median of repeated, synchronised runs.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

MATMUL_SIZE = 1024  # float32 (n x n) @ (n x n)
CONV_SHAPE = (32, 64, 32, 32)  # batch, channels, height, width; 3x3 kernel, 64 -> 64 channels, 'same'
REPEATS = 10
CONV_FLOPS = 2 * 3 * 3 * CONV_SHAPE[1] * CONV_SHAPE[1] * CONV_SHAPE[0] * CONV_SHAPE[2] * CONV_SHAPE[3]
TRIAL_OVERHEAD_S = 15.0  # process start, framework import, data load: a 1-epoch 500-image trial took 21.6 s
#                          of wall time here, 2.3 s of it training and 4.5 s the calibration (now cached)


def estimate_seconds(
    calibration: dict, forward_flops: int, epochs: int, train_images: int, val_images: int, test_images: int
) -> float:
    """A rough wall time of one trial: its FLOPs (training 3x forward, validation every epoch, the test
    once) at the rate this machine ran the calibration convolution, plus the per-trial overhead.
    Real models run below that rate (small layers, memory-bound ops), so read it as a lower bound."""
    flops = forward_flops * (3 * train_images * epochs + val_images * epochs + test_images)
    return flops * calibration["conv_s"] / CONV_FLOPS + TRIAL_OVERHEAD_S


def _median_seconds(run, synchronize) -> float:
    run()  # warm-up
    synchronize()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(framework: str, device: str, threads: int) -> dict:
    from bench.frameworks.base import get_adapter

    adapter = get_adapter(framework)
    adapter.setup(device, threads, seed=0)
    matmul, conv = adapter.calibration_workload(MATMUL_SIZE, CONV_SHAPE)
    return {
        "framework": framework,
        "device": device,
        "threads": threads,
        "matmul_s": _median_seconds(matmul, adapter.synchronize),
        "conv_s": _median_seconds(conv, adapter.synchronize),
        "workload": {
            "matmul": f"{MATMUL_SIZE}x{MATMUL_SIZE} float32",
            "conv": f"NCHW {CONV_SHAPE}, 3x3",
            "repeats": REPEATS,
            "statistic": "median",
        },
    }


if __name__ == "__main__":
    framework_name, device_name, thread_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(measure(framework_name, device_name, thread_count)))

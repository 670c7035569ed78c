"""pytest-benchmark on a GPU: one training epoch of 8,192 images per model x framework, on the device, with
the GPU suite's speed options (bf16, channels-last, compiled; torch's fused optimizer and cuDNN autotuning),
for regression tracking with `pytest --benchmark-only --benchmark-autosave` and `--benchmark-compare`.

Skipped, saying so, where nvidia-smi names no GPU. The warm-up epoch (compilation, autotuning) is not timed;
every timed epoch ends with a device synchronisation. Keras runs on its backend for cuda (KERAS_BACKEND).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.measure import provenance
from bench.spec.suites import ALL_MODELS, GPU_FASTEST, YARDSTICK_MODELS
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS, epoch_benchmark_name, honoured_part

GPUS = provenance.gpu_driver()["gpus"]
IMAGES, BATCH_SIZE = 8192, 512


pytestmark = pytest.mark.skipif(not GPUS, reason="GPU BENCHMARK SKIPPED: nvidia-smi names no GPU here")


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("model", ALL_MODELS + YARDSTICK_MODELS)
def test_gpu_training_epoch(benchmark, in_framework, framework, model):
    execution = honoured_part(framework, GPU_FASTEST)
    settings = in_framework(jobs.prepare_epoch, model, IMAGES, BATCH_SIZE, "cuda", execution)
    in_framework(jobs.train_one_epoch, model)  # warm-up: compilation, autotuning, allocator
    benchmark.group = f"GPU: one training epoch of {IMAGES} images, batch {BATCH_SIZE}"
    benchmark.name = epoch_benchmark_name(model, framework, settings)
    benchmark.extra_info.update(
        framework=framework,
        images=IMAGES,
        batch_size=BATCH_SIZE,
        gpu=GPUS[0],
        variant=execution.label(),
        git=provenance.git_state(),
        **settings,
    )
    loss = benchmark.pedantic(in_framework, args=(jobs.train_one_epoch, model), rounds=3, iterations=1)
    assert np.isfinite(loss)

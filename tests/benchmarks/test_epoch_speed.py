"""pytest-benchmark: one training epoch on a 512-image slice, per model x framework.

`pytest --benchmark-only` times them (warm-up epoch excluded, device synchronised at the end of
each epoch); the test suite runs each body once, untimed. The epoch runs in a process that only
uses its framework (see tests/framework_jobs.py); the timed call includes that process hop
(about a millisecond against an epoch of a second or more).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.measure import provenance
from bench.spec import registry
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS, epoch_benchmark_name

IMAGES, BATCH_SIZE = 512, 128
SMOKE_IMAGES = 32
SMOKE_MODEL = "r2_vanilla_cnn"  # the body is the same for every model; tests/test_parity.py trains each one


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("model", registry.model_names())
def test_training_epoch(benchmark, in_framework, framework, model):
    # Under --benchmark-disable (the test suite) the body runs once, as a smoke test, on one batch of one model.
    if benchmark.disabled and model != SMOKE_MODEL:
        pytest.skip(f"BENCHMARK SMOKE: the suite runs the body for {SMOKE_MODEL} only; test_parity trains every model")
    images = SMOKE_IMAGES if benchmark.disabled else IMAGES
    settings = in_framework(jobs.prepare_epoch, model, images, BATCH_SIZE)
    if not benchmark.disabled:
        in_framework(jobs.train_one_epoch, model)  # warm-up: tracing, allocator, caches
    benchmark.group = f"one training epoch of {IMAGES} images, batch {BATCH_SIZE}"
    benchmark.name = epoch_benchmark_name(model, framework, settings)
    benchmark.extra_info.update(
        framework=framework,
        images=images,
        batch_size=BATCH_SIZE,
        cpu=provenance.cpu_model(),
        git=provenance.git_state(),
        **settings,
    )
    loss = benchmark.pedantic(in_framework, args=(jobs.train_one_epoch, model), rounds=3, iterations=1)
    assert np.isfinite(loss)

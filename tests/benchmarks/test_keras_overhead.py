"""pytest-benchmark: the keras harness's epoch against a plain `model.fit` a Keras user would write, on the
CPU (r2_vanilla_cnn, batch 128, 2,048 images). The harness's target is at least 0.95x the plain fit's speed:
its own work (the epoch's augmentation in one gather, the learning-rate table, no per-step host reads) must
cost no more than keras's preprocessing layers do. Both run in the same keras process, one after the other.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.measure import provenance
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS

MODEL, IMAGES, BATCH_SIZE = "r2_vanilla_cnn", 2048, 128
SMOKE_IMAGES = 256


# Keras is never imported here: TensorFlow and torch in one process can crash it (tests/framework_jobs.py).
@pytest.mark.parametrize("framework", [param for param in FRAMEWORKS if param.values == ("keras",)])
@pytest.mark.parametrize("loop", ["harness", "plain-fit"])
def test_keras_epoch_harness_against_plain_fit(benchmark, in_framework, framework, loop):
    images = SMOKE_IMAGES if benchmark.disabled else IMAGES
    if loop == "harness":
        prepare, epoch = (jobs.prepare_epoch, MODEL, images, BATCH_SIZE), (jobs.train_one_epoch, MODEL)
    else:
        prepare, epoch = (jobs.prepare_plain_fit, MODEL, images, BATCH_SIZE), (jobs.plain_fit_epoch, MODEL)
    in_framework(*prepare)
    if not benchmark.disabled:
        in_framework(*epoch)  # warm-up: tracing
    benchmark.group = f"keras epoch of {IMAGES} images, {MODEL}, batch {BATCH_SIZE}: harness vs plain fit"
    benchmark.name = f"{loop}[keras]"
    benchmark.extra_info.update(images=images, batch_size=BATCH_SIZE, cpu=provenance.cpu_model())
    loss = benchmark.pedantic(in_framework, args=epoch, rounds=5, iterations=1)
    assert np.isfinite(loss)

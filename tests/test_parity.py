"""Every registered model is the same network in PyTorch and Keras 3 (generated from the registry).

Weights are copied torch -> keras by layer name; then inference logits, training-mode logits
(dropout off) and BatchNorm running statistics must agree. Each framework computes in its own
process (see tests/framework_jobs.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.frameworks import FRAMEWORKS as FRAMEWORK_NAMES
from bench.frameworks import missing_framework
from bench.spec import layers, registry
from bench.spec.suites import PAPER_PARTS
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS

# Numeric model options (a search's knobs) are not listed as models: a few non-default settings of each.
SEARCHED_VARIANTS = [
    "r2_tuned_cnn:filters1=16,filters2=48,kernel=5,dense=100,dropout=0.2",
    "r2_tuned_cnn:kernel=1,dense=64",
]
MODELS = registry.model_names() + SEARCHED_VARIANTS
BATCH = 16  # BatchNorm1d statistics of fewer samples amplify float32 round-off past 1e-4
both_frameworks = pytest.mark.skipif(
    any(missing_framework(fw) for fw in FRAMEWORK_NAMES), reason="PARITY SKIPPED: needs both torch and keras installed"
)


def assert_close(keras_values, torch_values, what: str, relative: float = 1e-4):
    scale = max(float(np.abs(torch_values).max()), 1e-6)
    np.testing.assert_allclose(keras_values, torch_values, rtol=relative, atol=relative * scale, err_msg=what)


@both_frameworks
@pytest.mark.parametrize("model", MODELS)
def test_same_network_after_copying_weights(model, framework_processes):
    rng = np.random.default_rng(0)
    images = rng.normal(size=(BATCH, 32, 32, 3)).astype(np.float32)
    batches = [rng.normal(size=(BATCH, 32, 32, 3)).astype(np.float32) for _ in range(2)]
    torch_side = framework_processes["torch"].submit(jobs.torch_reference, "torch", model, images, batches).result()
    keras_side = (
        framework_processes["keras"]
        .submit(jobs.keras_replay, "keras", model, torch_side["weights"], images, batches)
        .result()
    )

    assert_close(keras_side["inference"], torch_side["inference"], "inference logits")
    # Training mode normalises by batch statistics; features that a ReLU leaves nearly constant
    # across the batch magnify float32 round-off, so this check allows 1e-3.
    assert_close(keras_side["training"], torch_side["training"], "training-mode logits, dropout off", 1e-3)

    # BatchNorm running statistics after three training-mode batches from the same state. Means
    # agree. Variances differ by design: torch updates the running variance with the unbiased
    # batch variance, keras with the biased one, so (running - decayed start) differs by n/(n-1),
    # n = values per channel in a batch. We keep both frameworks' native rule and test it exactly.
    decay = (1 - layers.BN_MOMENTUM_TORCH) ** 3
    shapes = {leaf.name: shape for leaf, shape in layers.weighted_leaves(registry.layers(model, 10))}
    for name, torch_stats in torch_side["running"].items():
        keras_stats = keras_side["running"][name]
        start = torch_side["weights"][name]["running_var"]
        assert_close(keras_stats["running_mean"], torch_stats["running_mean"], f"{name} running mean", 1e-3)
        n = BATCH * (shapes[name][0] * shapes[name][1] if len(shapes[name]) == 3 else 1)
        assert_close(
            (torch_stats["running_var"] - decay * start) * (n - 1) / n,
            keras_stats["running_var"] - decay * start,
            f"{name} running variance",
            1e-3,
        )


@both_frameworks
def test_a_classifier_sized_by_its_input_is_the_same_network_at_48_pixels(framework_processes):
    """r2's vanilla CNN flattens its last feature map into its first dense layer: at 48x48 that layer is
    built for 12x12x64 inputs in both frameworks, weights copied across give the same logits, and its
    parameters are the spec's count at that size."""
    images = np.random.default_rng(0).normal(size=(BATCH, 48, 48, 3)).astype(np.float32)
    reference = framework_processes["torch"].submit(jobs.torch_reference, "torch", "r2_vanilla_cnn", images, [])
    torch_side = reference.result()
    keras_side = (
        framework_processes["keras"]
        .submit(jobs.keras_replay, "keras", "r2_vanilla_cnn", torch_side["weights"], images, [])
        .result()
    )
    assert_close(keras_side["inference"], torch_side["inference"], "inference logits at 48x48")
    assert torch_side["weights"]["fc1"]["weight"].shape == (512, 12 * 12 * 64)
    counted = sum(tensor.size for tensors in torch_side["weights"].values() for tensor in tensors.values())
    assert counted == sum(layers.count_params(registry.layers("r2_vanilla_cnn", 10), (48, 48, 3)))


@pytest.mark.parametrize("framework", FRAMEWORKS)
# Each architecture once, and each paper part (r4_resnet34:stem=cifar): another model option (a stem, a searched
# width) changes layers that the parity test above covers, not the 100-way head this test is about (keras runs
# the step eagerly: tracing it took up to 26 s a model here).
@pytest.mark.parametrize(
    "model", [name for name in registry.model_names() if ":" not in name] + [m for m, _, _ in PAPER_PARTS if ":" in m]
)
@pytest.mark.parametrize("num_classes", [100])  # 10 classes: the parity test above and every training test
def test_one_step_on_8_images_stays_finite(in_framework, model, num_classes):
    result = in_framework(jobs.one_step, model, num_classes)
    assert tuple(result["shape"]) == (8, num_classes)
    assert np.isfinite(result["loss"]) and result["finite"]


@pytest.mark.parametrize("framework", [pytest.param("torch", marks=FRAMEWORKS[0].marks)])
@pytest.mark.parametrize("model", MODELS)
def test_spec_flops_equal_torchs_flop_counter(in_framework, model):
    assert in_framework(jobs.torch_flops, model, 10) == layers.forward_flops(registry.layers(model, 10))

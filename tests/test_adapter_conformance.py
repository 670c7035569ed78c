"""The adapter contract (bench.frameworks.base.Adapter), checked the same way for every registered framework: what the
harness calls, it may rely on. Each framework's facts are gathered once, in its own process."""

from __future__ import annotations

import numpy as np
import pytest

from bench.frameworks import FRAMEWORKS as FRAMEWORK_NAMES
from bench.spec import layers, registry
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS


@pytest.fixture(scope="module", params=FRAMEWORKS)
def facts(request, framework_processes):
    return framework_processes[request.param].submit(jobs.conformance_facts, request.param).result(timeout=600)


def test_each_adapter_subclasses_the_contract_and_registers_under_its_name(facts):
    assert facts["class"] == "Adapter" and facts["registered_as"] in FRAMEWORK_NAMES
    assert facts["name"] == f"{facts['registered_as'].capitalize()}Adapter"  # adapters are named for their framework


def test_options_a_framework_lacks_are_refused_in_setup_with_the_reason_supports_gives(facts):
    assert facts["refused"], "every framework here lacks some option"
    for option, refusal in facts["refused"].items():
        assert refusal is not None, f"{option} was accepted"
        message, reason = refusal
        assert message == reason, option
        assert ("loader" if option == "loader" else option.replace("_", "-")) in message, option


def test_a_cuda_device_this_machine_lacks_is_refused_naming_the_fix(facts):
    if facts["cuda_refusal"] is None:
        pytest.skip("CONFORMANCE SKIPPED: this machine has a GPU")
    assert "--device cuda" in facts["cuda_refusal"] and "pip install" in facts["cuda_refusal"]


def test_parameter_counts_are_the_specs(facts):
    counted, spec = facts["counts"]
    assert tuple(counted) == tuple(spec) == layers.count_params(registry.layers("airbench94", 10))


def test_an_epoch_reports_a_finite_loss_and_its_last_learning_rate(facts):
    loss, accuracy, rate = facts["epoch"]
    assert np.isfinite(loss) and 0 <= accuracy <= 1 and rate == pytest.approx(5e-4)


def test_predictions_are_float32_logits_and_a_restored_snapshot_predicts_as_before(facts):
    shape, dtype, before, trained, restored = facts["predict"]
    assert shape == (16, 10) and dtype == "float32"
    assert not np.allclose(before, trained)  # the second epoch changed the model
    np.testing.assert_allclose(restored, before, rtol=1e-5, atol=1e-6)


def test_exported_weights_have_torchs_layout_and_load_back_to_the_same_network(facts):
    original, reloaded, exported_shapes, torch_shapes = facts["export_roundtrip"]
    assert exported_shapes == torch_shapes
    np.testing.assert_allclose(reloaded, original, rtol=1e-5, atol=1e-6)


def test_freezing_leaves_only_the_rest_trainable_and_unfreezing_restores_all(facts):
    frozen, unfrozen = facts["freeze"]
    head = 256 * 10  # airbench94's bias-free head
    assert frozen == head and unfrozen == layers.count_params(registry.layers("airbench94", 10))[0]


def test_settings_name_every_field_of_the_fairness_manifest(facts):
    reported, required = facts["settings"]
    assert set(required) <= set(reported)


def test_device_memory_is_none_on_a_cpu_and_says_so(facts):
    assert facts["memory"] == {"peak_device_bytes": None, "peak_device_measures": None}


def test_out_of_memory_is_recognised_by_the_frameworks_error_type_not_by_words(facts):
    typed, memory_error, worded, other = facts["oom"]
    assert typed and memory_error and not worded and not other


def test_the_calibration_workload_does_the_work_it_names(facts):
    from bench.measure.calibration import CONV_FLOPS, MATMUL_SIZE

    # 500 GFLOP/s on one CPU thread (the calibration's here) is more than any CPU core does (AVX-512 FMA at 4 GHz:
    # about 130 in float32): faster would be no matmul or convolution at all.
    for seconds, flops in zip(facts["calibration"], (2 * MATMUL_SIZE**3, CONV_FLOPS)):
        assert np.isfinite(seconds) and seconds > flops / 5e11

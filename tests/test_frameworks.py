"""Both adapters, generated from the registry: parameter counts, determinism, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from bench.spec import layers, registry
from bench.spec.execution import Execution
from tests import framework_jobs as jobs
from tests.conftest import FRAMEWORKS


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("model", registry.model_names())
@pytest.mark.parametrize("num_classes", [100])  # 10 classes: test_list_measured_counts_equal_the_spec
def test_parameter_counts_match_the_spec(in_framework, model, num_classes):
    expected = layers.count_params(registry.layers(model, num_classes))
    assert tuple(in_framework(jobs.parameter_counts, model, num_classes)) == expected


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_same_seed_same_first_epoch_loss(in_framework):
    first, again, other = (in_framework(jobs.first_epoch_loss, seed) for seed in (0, 0, 1))
    assert np.isfinite(first)
    assert first == again
    assert first != other


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_a_finite_step_at_either_precision(in_framework, amp):
    settings = in_framework(jobs.prepare_epoch, "r2_vanilla_cnn", 16, 16, "cpu", Execution(amp=amp))
    assert settings["precision"] == {"bf16": "bfloat16", "fp16": "float16"}[amp]
    assert np.isfinite(in_framework(jobs.train_one_epoch, "r2_vanilla_cnn"))


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_epoch_reads_from_the_device_a_fixed_number_of_times_whatever_its_steps(in_framework):
    # On a GPU every read is a host sync that stalls the queue: none may happen per step (the NaN check
    # reads the epoch's loss once, at its end).
    short, long = (in_framework(jobs.host_reads_in_an_epoch, steps) for steps in (2, 6))
    assert short == long, (short, long)


def column_coded_images(count: int) -> np.ndarray:
    """Images whose red value encodes the source column (1..32; 0 is padding)."""
    images = np.zeros((count, 32, 32, 3), np.uint8)
    images[..., 0] = np.arange(1, 33)[None, None, :]
    return images


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_flip_keeps_shape_and_dtype_and_flips_about_half(in_framework):
    images = column_coded_images(2000)
    out = in_framework(jobs.augment, images, 0, True)
    assert out.shape == images.shape and out.dtype == np.uint8
    flipped = out[:, 0, 0, 0] == 32
    assert np.all(out[flipped, 0, :, 0] == np.arange(32, 0, -1))
    assert np.all(out[~flipped] == images[~flipped])
    assert 0.45 < flipped.mean() < 0.55


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_crop_is_a_shifted_window_with_zero_padding(in_framework):
    images = column_coded_images(500)
    out = in_framework(jobs.augment, images, 4, False)
    assert out.shape == images.shape and out.dtype == np.uint8
    shifts = set()
    for image in out:
        columns = image[16, :, 0].astype(int)
        inside = columns > 0
        shift = int(columns[inside][0]) - 1 - int(np.argmax(inside))  # source column of output column 0
        assert np.array_equal(columns[inside], np.arange(32)[inside] + shift + 1)
        assert np.all(columns[~inside] == 0)
        shifts.add(shift)
    assert shifts == set(range(-4, 5))  # every offset of the 9x9 crop grid shows up


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_mixup_mixes_each_batch_with_a_permutation_of_itself(in_framework):
    count, batch_size = 20, 8
    inputs, targets = in_framework(jobs.mix_indexed_epoch, count, batch_size, 0.4)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    for start in range(0, count, batch_size):
        rows = range(start, min(start + batch_size, count))
        weight = targets[start, start]
        partners = []
        for i in rows:
            others = [j for j in np.flatnonzero(targets[i] > 1e-6) if j != i]
            partner = others[0] if others else i  # mixed with itself: the whole row is at i
            assert start <= partner < start + batch_size  # never mixed across batches
            assert targets[i, i] == pytest.approx(weight if partner != i else 1.0, abs=1e-6)
            assert inputs[i].item() == pytest.approx(weight * i + (1 - weight) * partner, abs=1e-4)
            partners.append(partner)
        assert sorted(partners) == list(rows)  # a permutation of the batch


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_colour_jitter_stays_in_range_and_varies_per_image(in_framework):
    pixels = np.random.default_rng(0).uniform(0.2, 0.8, (64, 32, 32, 3)).astype(np.float32)
    out = in_framework(jobs.photometric, pixels, 0.3, 0.0)
    assert out.shape == pixels.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not np.allclose(out, pixels)
    np.testing.assert_array_equal(in_framework(jobs.photometric, pixels, 0.0, 0.0), pixels)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_rotation_turns_about_the_centre_within_the_angle(in_framework):
    # A horizontal bar through the centre: after a rotation of at most 20 degrees, its centre stays
    # lit, its ends move off the row, and nothing is lit far from the bar's rotated band.
    pixels = np.zeros((32, 32, 32, 3), np.float32)
    pixels[:, 15:17, 2:30, :] = 1.0
    out = in_framework(jobs.photometric, pixels, 0.0, 20.0)
    assert out.shape == pixels.shape
    assert np.all(out[:, 15:17, 14:18, 0] > 0.5)
    moved = [not np.allclose(out[i], pixels[i], atol=0.05) for i in range(len(out))]
    assert sum(moved) > len(out) // 2
    rows, columns = np.meshgrid(np.arange(32) - 15.5, np.arange(32) - 15.5, indexing="ij")
    far = np.abs(rows) > np.abs(columns) * np.tan(np.radians(20)) + 2.5
    assert out[:, far, 0].max() < 0.05


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("scheme", ["torch", "keras"])
def test_the_same_initialisation_on_both_sides_when_asked(in_framework, framework, scheme):
    # r2_vanilla_cnn: conv1 3->32 (fan_in 27), conv2 32->64 (288), fc1 4096->512, fc2 512->10.
    fans = {"conv1": (27, 32 * 9), "conv2": (288, 64 * 9), "fc1": (4096, 512), "fc2": (512, 10)}
    bounds = in_framework(jobs.initialised_weights, scheme)
    for name, (fan_in, fan_out) in fans.items():
        weight_max, bias_max, weight_std = bounds[name]
        limit = 1 / np.sqrt(fan_in) if scheme == "torch" else np.sqrt(6 / (fan_in + fan_out))
        assert weight_max <= limit * 1.0001
        assert weight_std == pytest.approx(limit / np.sqrt(3), rel=0.2)  # uniform(-limit, limit)
        if scheme == "torch":
            assert 0 < bias_max <= limit * 1.0001
        else:
            assert bias_max == 0.0


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_spec_with_its_own_initialisation_starts_both_frameworks_from_its_weights(in_framework):
    """SqueezeNet starts as torchvision's constructor starts it (its spec's init), drawn once in numpy."""
    from bench.spec.initialisation import initial_weights

    spec = registry.spec("r2_squeezenet1_1")
    expected = initial_weights(registry.layers("r2_squeezenet1_1", 10), layers.INPUT_SHAPE, spec.init, seed=0)
    started = in_framework(jobs.trial_starting_weights, "r2_squeezenet1_1")
    for name, tensors in expected.items():
        for tensor, values in tensors.items():
            np.testing.assert_allclose(started["weights"][name][tensor], values, rtol=1e-6, err_msg=name)
    assert started["record"] == {"spec_init": spec.init}
    classifier, first = expected["classifier_1"]["weight"], expected["features_0"]["weight"]
    assert abs(classifier.std() - 0.01) < 0.002 and not expected["classifier_1"]["bias"].any()
    assert np.abs(first).max() <= np.sqrt(6 / (3 * 3 * 3)) and first.std() > 0.2  # kaiming-uniform, gain sqrt 2


def test_a_framework_is_its_folder_plus_one_record(tmp_path, monkeypatch):
    """A throw-away framework, its adapter a module of its own and its record in RECORDS: the driver's questions
    (installed? which options? which backend? its adapter?) are answered from the record, with no other edit."""
    import sys
    from dataclasses import replace

    import bench.frameworks as frameworks
    from bench.frameworks import base

    (tmp_path / "toyfw_adapter.py").write_text(
        "from bench.frameworks.base import Adapter, register\n\n\n"
        "@register\nclass ToyAdapter(Adapter):\n    name = 'toyfw'\n\n\n"
        "ToyAdapter.__abstractmethods__ = frozenset()  # a stand-in: the test asks only that it is found\n"
    )
    monkeypatch.setattr(base, "_REGISTERED", dict(base._REGISTERED))  # its registration goes with the test
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toyfw_adapter", raising=False)
    toy = frameworks.Framework(
        "toyfw",
        "toyfw_adapter",
        "numpy",
        "cnnbench[toyfw]",
        ("numpy",),
        frozenset({"compile"}),
        backend_variable="TOYFW_BACKEND",
        default_backends=(("cpu", "numpy"), ("cuda", "cupy_like")),
    )
    monkeypatch.setattr(frameworks, "RECORDS", (*frameworks.RECORDS, toy))
    monkeypatch.delenv("TOYFW_BACKEND", raising=False)
    assert frameworks.missing_framework("toyfw") is None  # numpy is there, and so is its cpu backend
    assert frameworks.missing_framework("toyfw", "cuda") == (
        "toyfw backend 'cupy_like' (TOYFW_BACKEND) is not installed"
    )
    missing = replace(toy, name="gonefw", requires="no_such_module_here", extra="cnnbench[gonefw]")
    monkeypatch.setattr(frameworks, "RECORDS", (*frameworks.RECORDS, missing))
    assert frameworks.missing_framework("gonefw") == "gonefw is not installed (pip install 'cnnbench[gonefw]')"
    assert frameworks.backend_for("toyfw", "cuda") == "cupy_like"
    assert frameworks.backend_environment("toyfw", "numpy") == {"TOYFW_BACKEND": "numpy"}
    assert frameworks.unsupported("toyfw", Execution(loader="naive")) == "the naive loader is torch-only"
    assert frameworks.unsupported("toyfw", Execution(compile="jit")) is None
    assert type(base.get_adapter("toyfw")).__module__ == "toyfw_adapter"

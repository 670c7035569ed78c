"""airbench94's own training tricks as the harness applies them: whitening initialisation of the first conv and
flip-and-translate test-time augmentation (framework-neutral, numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import cifar
from bench.errors import BenchError
from bench.results import store
from bench.run import runner, tta, whitening
from bench.spec import registry
from tests.test_end_to_end import synthetic_trial


def test_whitening_filters_decorrelate_the_patches_they_were_estimated_from():
    dataset = cifar.synthetic(train=300, seed=2)
    images = dataset.train_x.copy()
    images[..., 1] = images[..., 0] // 2 + images[..., 1] // 2  # correlated channels, as real images have
    mean, std = cifar.NORMALISATION["cifar10"]
    layer = whitening.first_conv(registry.layers("airbench94", 10))
    weights = whitening.whitening_weights(layer, images, mean, std)
    assert weights["weight"].shape == (24, 3, 2, 2) and not weights["bias"].any()
    pixels = (images / 255.0 - np.asarray(mean)) / np.asarray(std)
    patches = np.lib.stride_tricks.sliding_window_view(pixels, (2, 2), axis=(1, 2)).reshape(-1, 12)
    half = weights["weight"][:12].reshape(12, 12)
    outputs = patches @ half.T
    covariance = outputs.T @ outputs / len(outputs)
    eigenvalues = np.sort(np.linalg.eigvalsh(patches.T @ patches / len(patches)))[::-1]
    np.testing.assert_allclose(np.diag(covariance), eigenvalues / (eigenvalues + whitening.EPSILON), rtol=1e-3)
    np.testing.assert_allclose(covariance - np.diag(np.diag(covariance)), 0, atol=1e-3)
    np.testing.assert_array_equal(weights["weight"][12:], -weights["weight"][:12])


def test_whitening_refuses_a_model_without_a_whitening_conv_first():
    with pytest.raises(BenchError, match="first layer is a conv without padding"):
        whitening.first_conv(registry.layers("r2_vanilla_cnn", 10))


def test_test_time_views_are_airbenchs_mirror_and_one_pixel_shifts_with_weights_summing_to_one():
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    assert [w for w, _ in tta.views(images, "none")] == [1.0]
    (_, plain), (_, mirrored) = tta.views(images, "flip")
    np.testing.assert_array_equal(mirrored, images[:, :, ::-1])
    views = tta.views(images, "flip-translate")
    assert [w for w, _ in views] == [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]
    up_left, down_right = views[2][1], views[4][1]
    np.testing.assert_array_equal(up_left[:, 1:, 1:], images[:, :3, :3])  # shifted by one pixel
    np.testing.assert_array_equal(up_left[:, 0, 1:], images[:, 1, :3])  # reflected, not zero
    np.testing.assert_array_equal(down_right[:, :3, :3], images[:, 1:, 1:])
    np.testing.assert_array_equal(views[3][1], up_left[:, :, ::-1])
    logits = tta.predict(lambda view: view.reshape(len(view), -1)[:, :2].astype(np.float32), images, "flip")
    expected = 0.5 * images.reshape(2, -1)[:, :2] + 0.5 * images[:, :, ::-1].reshape(2, -1)[:, :2]
    np.testing.assert_allclose(logits, expected)


def test_an_airbench94_trial_whitens_and_keeps_its_first_conv_and_scores_with_test_time_augmentation(tmp_path):
    trial = synthetic_trial(
        model="airbench94", recipe="airbench94", epochs=1, train_subset=512, batch_size=256, test_subset=200
    )  # test-time augmentation scores each test image 6 times
    runner.run_sweep([trial], tmp_path)
    (record,) = store.load(tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["initialisation"] == {"whitened": "whiten", "frozen": ["whiten"]}
    assert record["recipe"]["test_time_augmentation"] == "flip-translate"
    assert record["test"]["accuracy"] is not None and record["timing"]["inference_images_per_s"] > 0


def test_the_patch_covariance_summed_in_chunks_is_the_whole_sets():
    pixels = np.random.default_rng(3).normal(size=(whitening.CHUNK * 2 + 7, 5, 5, 3))
    windows = np.lib.stride_tricks.sliding_window_view(pixels, (2, 2), axis=(1, 2)).reshape(-1, 12)
    np.testing.assert_allclose(whitening.patch_covariance(pixels, 2), windows.T @ windows / len(windows), rtol=1e-10)


def test_the_whitening_is_estimated_from_the_first_5000_training_images_only():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (whitening.SAMPLE_IMAGES + 50, 8, 8, 3), dtype=np.uint8)
    more = images.copy()
    more[whitening.SAMPLE_IMAGES :] = 0  # images past the sample change nothing
    fewer = images.copy()
    fewer[whitening.SAMPLE_IMAGES - 1] = 0  # the last image of the sample does
    layer = whitening.first_conv(registry.layers("airbench94", 10))
    mean, std = cifar.NORMALISATION["cifar10"]
    weights = whitening.whitening_weights(layer, images, mean, std)["weight"]
    np.testing.assert_array_equal(whitening.whitening_weights(layer, more, mean, std)["weight"], weights)
    assert not np.allclose(whitening.whitening_weights(layer, fewer, mean, std)["weight"], weights)


@pytest.mark.parametrize(
    "change", [{"padding": 1}, {"depthwise": True}, {"filters": 23}, {"kernel": 3}], ids=lambda c: next(iter(c))
)
def test_whitening_refuses_a_first_conv_it_cannot_fill(change):
    import dataclasses

    layer_list = registry.layers("airbench94", 10)
    with pytest.raises(BenchError, match="first layer is a conv without padding"):
        whitening.first_conv([dataclasses.replace(layer_list[0], **change), *layer_list[1:]])

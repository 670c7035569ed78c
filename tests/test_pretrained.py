"""Pretrained ResNet-34 from a local torchvision-format file, in both frameworks."""

from __future__ import annotations

import numpy as np
import pytest

from bench import registry
from tests import framework_jobs as jobs
from tests.test_cli import assert_one_line_error, bench

needs_both = pytest.mark.skipif(any(registry.missing_framework(fw) for fw in registry.FRAMEWORKS),
                                reason="PRETRAINED SKIPPED: needs both torch and keras installed")


@needs_both
def test_torchvision_resnet34_file_gives_torchvisions_outputs_in_both_frameworks(tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    path = str(tmp_path / "resnet34.pth")
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    expected = framework_processes["torch"].submit(jobs.torchvision_resnet34, "torch", path, images).result()
    for framework in registry.FRAMEWORKS:
        result = framework_processes[framework].submit(
            jobs.pretrained_logits, framework, "r4_resnet34", path, 1000, images).result()
        assert result["skipped"] == []
        scale = np.abs(expected).max()
        np.testing.assert_allclose(result["logits"], expected, rtol=1e-4, atol=1e-4 * scale, err_msg=framework)


@needs_both
def test_a_new_head_is_left_initialised(tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    path = str(tmp_path / "resnet34.pth")
    images = np.zeros((1, 32, 32, 3), np.float32)
    framework_processes["torch"].submit(jobs.torchvision_resnet34, "torch", path, images).result()
    result = framework_processes["torch"].submit(
        jobs.pretrained_logits, "torch", "r4_resnet34", path, 100, images).result()
    assert result["skipped"] == ["fc"] and result["logits"].shape == (1, 100)


def test_a_missing_weights_file_is_a_clear_error(tmp_path):
    result = bench("run", "--model", "r4_resnet34", "--weights", str(tmp_path / "absent.pth"),
                   "--results", str(tmp_path / "out"))
    assert_one_line_error(result, "absent.pth not found", "never downloads")

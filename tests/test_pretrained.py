"""Transfer learning: torchvision weight files in both frameworks, fine-tuning phases, the transfer suites."""

from __future__ import annotations

import numpy as np
import pytest

from bench.frameworks import FRAMEWORKS, missing_framework
from bench.results import store
from bench.spec.suites import TRANSFER_PARTS, get_suite
from tests import framework_jobs as jobs
from tests.test_cli import assert_one_line_error, bench

needs_both = pytest.mark.skipif(
    any(missing_framework(fw) for fw in FRAMEWORKS), reason="PRETRAINED SKIPPED: needs both torch and keras installed"
)

# torchvision's constructor -> the model here that loads its weights file as it is
TORCHVISION_MODELS = {
    "resnet18": "resnet18:stem=imagenet",
    "resnet34": "r4_resnet34",
    "resnet50": "resnet50",
    "vgg16": "vgg16",
    "squeezenet1_1": "r2_squeezenet1_1",
    "efficientnet_b0": "r2_efficientnet_b0:stem=imagenet",
}


def assert_same_logits(result: dict, expected: np.ndarray, framework: str) -> None:
    assert result["skipped"] == []
    scale = max(float(np.abs(expected).max()), 1e-6)
    np.testing.assert_allclose(result["logits"], expected, rtol=1e-4, atol=1e-4 * scale, err_msg=framework)


def scheduled_rates(record: dict) -> list[float]:
    """The rate each epoch of a fine-tuning trial should end on, from its recipe alone: the schedule's, times the
    unfrozen scale once the frozen epochs are over (no plateau reduction fits in so few epochs)."""
    from bench.spec.config import TrialConfig
    from bench.spec.recipes import learning_rate_at

    recipe = TrialConfig.from_record(record["config"]).resolved_recipe()
    steps = -(-record["dataset"]["train_size"] // recipe.batch_size)
    return [
        learning_rate_at(recipe, (epoch + 1) * steps - 1, epoch, 1.0, steps)
        * (recipe.unfrozen_lr_scale if epoch >= recipe.freeze_epochs else 1.0)
        for epoch in range(len(record["epochs"]))
    ]


@needs_both
@pytest.mark.parametrize("architecture", TORCHVISION_MODELS)
def test_a_torchvision_file_gives_torchvisions_logits_in_both_frameworks(architecture, tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    path = str(tmp_path / f"{architecture}.pth")
    images = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    expected = (
        framework_processes["torch"]
        .submit(jobs.torchvision_reference, "torch", architecture, path, images, 10)
        .result()
    )
    for framework in FRAMEWORKS:
        result = (
            framework_processes[framework]
            .submit(jobs.pretrained_logits, framework, TORCHVISION_MODELS[architecture], path, 10, images)
            .result()
        )
        assert_same_logits(result, expected, framework)


@needs_both
def test_the_input_resize_is_torchs_bilinear_in_both_frameworks(tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    path = str(tmp_path / "squeezenet1_1.pth")
    images = np.random.default_rng(1).normal(size=(2, 32, 32, 3)).astype(np.float32)
    expected = (
        framework_processes["torch"]
        .submit(jobs.torchvision_reference, "torch", "squeezenet1_1", path, images, 10, 64)
        .result()
    )
    for framework in FRAMEWORKS:
        result = (
            framework_processes[framework]
            .submit(jobs.pretrained_logits, framework, "r2_squeezenet1_1", path, 10, images, 64)
            .result()
        )
        assert_same_logits(result, expected, framework)


@needs_both
def test_a_new_head_is_left_initialised(tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    path = str(tmp_path / "resnet34.pth")
    images = np.zeros((1, 32, 32, 3), np.float32)
    framework_processes["torch"].submit(jobs.torchvision_reference, "torch", "resnet34", path, images).result()
    result = (
        framework_processes["torch"].submit(jobs.pretrained_logits, "torch", "r4_resnet34", path, 100, images).result()
    )
    assert result["skipped"] == ["fc"] and result["logits"].shape == (1, 100)


@needs_both
def test_a_frozen_phase_changes_no_backbone_weight_in_either_framework(tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    path = str(tmp_path / "resnet18.pth")
    framework_processes["torch"].submit(
        jobs.torchvision_reference, "torch", "resnet18", path, np.zeros((1, 32, 32, 3), np.float32)
    ).result()
    counts = {}
    for framework in FRAMEWORKS:
        phases = (
            framework_processes[framework]
            .submit(jobs.fine_tuning_phases, framework, "resnet18:stem=imagenet", path, 10)
            .result()
        )
        assert "fc" not in phases["backbone"] and len(phases["backbone"]) == 40
        assert phases["frozen"]["changed"] == ["fc"], framework  # BatchNorm statistics included
        assert set(phases["free"]["changed"]) == set(phases["backbone"]) | {"fc"}, framework
        counts[framework] = (phases["frozen"]["trainable"], phases["free"]["trainable"])
    assert counts["torch"] == counts["keras"] == (512 * 10 + 10, 11_181_642)


def test_a_fine_tuning_recipe_without_weights_is_refused(tmp_path):
    result = bench(
        "run",
        "--model",
        "r4_resnet34",
        "--recipe",
        "r4_pretrained",
        "--dataset",
        "synthetic",
        "--val-size",
        "100",
        "--results",
        str(tmp_path / "out"),
    )
    assert_one_line_error(result, "recipe r4_pretrained fine-tunes pretrained weights: give --weights")


def test_a_missing_weights_file_is_a_clear_error(tmp_path):
    result = bench(
        "run", "--model", "r4_resnet34", "--weights", str(tmp_path / "absent.pth"), "--results", str(tmp_path / "out")
    )
    assert_one_line_error(result, "absent.pth not found", "never downloads")


def test_a_transfer_suite_without_its_files_skips_each_part_naming_the_file(tmp_path):
    result = bench(
        "run",
        "--suite",
        "transfer-quick",
        "--weights-dir",
        str(tmp_path),
        "--framework",
        "torch",
        "--dataset",
        "synthetic",
        "--results",
        str(tmp_path / "out"),
    )
    assert_one_line_error(
        result,
        "nothing to run: every trial is skipped",
        *(f"needs weights file {file_name} in" for *_, file_name in TRANSFER_PARTS),
    )
    assert_one_line_error(
        bench(
            "run",
            "--suite",
            "transfer-quick",
            "--weights-dir",
            str(tmp_path / "none"),
            "--results",
            str(tmp_path / "out"),
        ),
        "is not a directory",
    )


@needs_both
def test_the_transfer_suite_runs_end_to_end_from_local_files(tmp_path, framework_processes):
    pytest.importorskip("torchvision")
    names = {
        "resnet50": "resnet50",
        "vgg16": "vgg16",
        "r2_squeezenet1_1": "squeezenet1_1",
        "r2_efficientnet_b0:stem=imagenet": "efficientnet_b0",
        "r4_resnet34": "resnet34",
    }
    for model, _, _, file_name in TRANSFER_PARTS:
        framework_processes["torch"].submit(
            jobs.torchvision_reference,
            "torch",
            names[model],
            str(tmp_path / file_name),
            np.zeros((1, 32, 32, 3), np.float32),
        ).result()
    common = [
        "run",
        "--suite",
        "transfer-quick",
        "--weights-dir",
        str(tmp_path),
        "--dataset",
        "synthetic",
        "--train-subset",
        "16",
        "--val-size",
        "10",
        "--batch-size",
        "16",
        "--test-subset",
        "10",
        "--no-calibration",
        "--results",
        str(tmp_path / "out"),
    ]
    # Every part in torch; in keras (slow to re-trace a big model after unfreezing) one, with both phases: the
    # logits and freezing tests above cover the others' keras side.
    for framework, models in (("torch", []), ("keras", ["--model", "r2_squeezenet1_1"])):
        result = bench(*common, "--framework", framework, *models)
        assert result.returncode == 0, result.stderr
    records = store.load(tmp_path / "out")
    assert len(records) == len(get_suite("transfer-quick").entries) + 1
    for record in records:
        assert record["status"] == "ok", record["error"]
        recipe = record["recipe"]
        assert record["pretrained"]["layers_left_initialised"] in (["fc"], ["classifier_6"], ["classifier_1"])
        phases = record["pretrained"]["phases"]
        if recipe["freeze_epochs"]:
            assert [p["from_epoch"] for p in phases] == [1, recipe["freeze_epochs"] + 1]
            assert phases[0]["params_trainable"] < phases[1]["params_trainable"]
            rates = [e["learning_rate"] for e in record["epochs"]]
            assert rates == pytest.approx(scheduled_rates(record), rel=1e-6)
        if recipe["resize"]:
            assert record["model"]["forward_flops_per_image"] > 300e6  # counted at 224x224


@needs_both
def test_tensorboard_logs_read_back_for_a_torch_and_a_keras_trial(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    result = bench(
        "run",
        "--model",
        "r2_vanilla_cnn",
        "--framework",
        "torch",
        "keras",
        "--dataset",
        "synthetic",
        "--epochs",
        "2",
        "--train-subset",
        "128",
        "--val-size",
        "64",
        "--no-calibration",
        "--results",
        str(tmp_path),
        "--tensorboard",
    )
    assert result.returncode == 0, result.stderr
    runs = sorted((tmp_path / "tensorboard").iterdir())
    assert len(runs) == 2 and "_keras_tensorflow_" in runs[0].name and "_torch_" in runs[1].name
    for run in runs:
        events = event_accumulator.EventAccumulator(str(run))
        events.Reload()
        for tag in (
            "train/loss",
            "train/accuracy",
            "val/loss",
            "val/accuracy",
            "learning_rate",
            "epoch_time_s",
            "images_per_s",
        ):
            assert [event.step for event in events.Scalars(tag)] == [1, 2], (run.name, tag)
        assert len(events.Scalars("final/test_accuracy")) == 1
        raw = {
            value.tag
            for path in run.iterdir()
            for event in LegacyEventFileLoader(str(path)).Load()
            for value in event.summary.value
        }
        assert {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"} <= raw

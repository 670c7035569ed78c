"""The GPU path's options, run on the CPU: mixed precision, channels-last, compilation, the naive
loop, and the report's fast-vs-naive table. The same code runs with --device cuda."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from bench.frameworks import missing_framework
from bench.report.labels import variant_label
from bench.results import store
from bench.run import runner
from bench.spec import registry
from bench.spec.suites import ALL_MODELS, YARDSTICK_MODELS, get_suite
from tests.conftest import REPO_ROOT, details_text, requires_no_gpu
from tests.test_cli import assert_one_line_error, bench
from tests.test_end_to_end import synthetic_trial

TRANSFER_MODELS = ("resnet50", "vgg16", "resnet18:stem=imagenet", "r2_efficientnet_b0:stem=imagenet")

needs_torch = pytest.mark.skipif(bool(missing_framework("torch")), reason="GPU PATH SKIPPED: no torch")
needs_keras = pytest.mark.skipif(bool(missing_framework("keras")), reason="GPU PATH SKIPPED: no keras")


@needs_torch
@needs_keras
def test_speed_options_run_and_are_recorded_in_both_frameworks(tmp_path):
    # Each framework with its own options, and between them both mixed precisions, one trial each (TensorFlow
    # emulates float16 on a CPU at a crawl: 40 s for an epoch torch does in 1 s; its bfloat16 is fast).
    own_options = {
        "torch": dict(amp="fp16", fused_optimizer=True, cudnn_benchmark=True),
        "keras": dict(amp="bf16", backend="tensorflow", steps_per_execution=3),
    }
    trials = [synthetic_trial(framework=fw, channels_last=True, **own_options[fw]) for fw in ("torch", "keras")]
    summary = runner.run_sweep(trials, tmp_path)
    assert summary.counts["ok"] == 2, [r.get("error") for r in store.load(tmp_path)]
    for record in store.load(tmp_path):
        settings = record["settings"]
        assert settings["precision"] == {"bf16": "bfloat16", "fp16": "float16"}[record["config"]["amp"]]
        assert settings["loader"] == "fast"
        if record["config"]["framework"] == "torch":
            assert settings["memory_format"] == "channels_last"
            assert settings["fused_optimizer"] is True and settings["cudnn_benchmark"] is True
            assert variant_label(record["config"]).endswith("+fused-optimizer+cudnn-benchmark")
        else:
            assert settings["steps_per_execution"] == 3
            assert variant_label(record["config"]).endswith("+steps-per-execution=3")


@needs_torch
def test_naive_loop_and_fast_path_give_a_speedup_row(tmp_path):
    trials = [synthetic_trial(epochs=2, train_subset=512), synthetic_trial(epochs=2, train_subset=512, loader="naive")]
    runner.run_sweep(trials, tmp_path)
    records = store.load(tmp_path)
    assert {r["settings"]["loader"] for r in records} == {"fast", "naive"}
    assert all(r["status"] == "ok" and r["timing"]["epoch_median_s"] > 0 for r in records)
    section = details_text(records).split("## Fast path vs naive loop")[1].split("\n## ")[0]
    (row,) = [line for line in section.splitlines() if line.startswith("| r2_vanilla_cnn")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "torch" and cells[4] == "fast" and cells[-1].endswith("x")


def test_each_framework_refuses_the_options_it_does_not_have_before_anything_runs(tmp_path):
    for flag, reason in [
        ("--fused-optimizer", "--fused-optimizer is torch-only"),
        ("--steps-per-execution=2", "--steps-per-execution is keras-only"),
    ]:
        framework = "keras" if "fused" in flag else "torch"
        assert_one_line_error(
            bench(
                "run",
                "--dataset",
                "synthetic",
                "--model",
                "r2_vanilla_cnn",
                "--framework",
                framework,
                flag,
                "--results",
                str(tmp_path),
            ),
            reason,
        )
    assert not list(tmp_path.rglob("*.json"))


def test_gpu_suite_has_fast_and_naive_twins_for_every_model():
    entries = get_suite("gpu").entries
    speed = [(e.model, e.execution) for e in entries]
    fast = {model for model, x in speed if x.loader == "fast" and x.amp == "bf16" and x.compile != "off"}
    naive = {model for model, x in speed if x.loader == "naive" and x.amp == "off" and x.compile == "off"}
    assert fast == naive == set(ALL_MODELS)
    # every registered model is trained from scratch here, a transfer-learning layout or the yardstick, by its role
    assert set(ALL_MODELS) | set(TRANSFER_MODELS) | set(YARDSTICK_MODELS) == set(registry.model_names())
    assert set(registry.models_for("pretrained")) == set(TRANSFER_MODELS) and YARDSTICK_MODELS == ("airbench94",)
    assert any(e.model == "resnet18" and e.recipe == "onecycle" and e.target_accuracy == 0.93 for e in entries)


@needs_torch
@needs_keras
def test_keras_runs_on_the_torch_backend_as_on_the_gpu_machines(tmp_path):
    # The lent GPU machines have torch and JAX but no TensorFlow: keras must run on torch there.
    trial = synthetic_trial(framework="keras", backend="torch", recipe="r4_resnet", epochs=2)
    runner.run_sweep([trial], tmp_path)
    (record,) = store.load(tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["settings"]["backend"] == "torch"
    assert record["settings"]["tf32_matmul"] is False  # strict float32, as the fairness manifest says
    assert "keras (torch)" in details_text([record])


@needs_keras
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="GPU PATH SKIPPED: no jax")
def test_keras_runs_on_the_jax_backend_with_its_own_jit(tmp_path):
    # The other backend the lent GPU machines have; jit_compile is XLA's there.
    trial = synthetic_trial(framework="keras", backend="jax", epochs=2, compile="default", amp="bf16")
    runner.run_sweep([trial], tmp_path)
    (record,) = store.load(tmp_path)
    assert record["status"] == "ok", record["error"]
    assert record["settings"]["backend"] == "jax" and record["settings"]["precision"] == "bfloat16"
    assert record["settings"]["tf32_matmul"] is False
    assert record["test"]["accuracy"] is not None and record["timing"]["epoch_median_s"] > 0
    assert "keras (jax)" in details_text([record])


@needs_torch
@needs_keras
def test_keras_on_the_torch_backend_never_copies_its_tensors_through_numpy():
    # Every keras-on-torch trial crashed on the H200 (d21dc03): numpy read a GPU tensor (the input
    # normalisation by numpy arrays, keras's TerminateOnNaN). Here CPU tensors refuse numpy as GPU ones do.
    completed = subprocess.run(
        [sys.executable, "-m", "tests.gpu_like_tensors"],
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""},
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    loss, shape = completed.stdout.split()[-2:]
    assert float(loss) > 0 and shape == "300x10"


@needs_keras
@requires_no_gpu
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_a_cuda_keras_trial_whose_backend_sees_no_gpu_fails_before_training_naming_the_fix(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"GPU PATH SKIPPED: keras backend {backend} is not installed")
    trial = synthetic_trial(framework="keras", backend=backend, device="cuda")
    runner.run_sweep([trial], tmp_path)  # this machine has no GPU, as a CPU-only install sees none
    (record,) = store.load(tmp_path)
    assert record["status"] == "crashed" and record["epochs"] == []
    assert record["error"].startswith(f"BenchError: --device cuda: keras's {backend} backend sees no GPU;")
    assert "cnnbench[gpu]" in record["error"]

"""The command line: bad input is one line on stderr and exit code 2; `list` imports no framework."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from bench.frameworks import FRAMEWORKS as FRAMEWORK_NAMES
from bench.frameworks import missing_framework
from bench.spec import registry
from tests.conftest import (
    QUICK_BENCHMARK_MODELS,
    REPO_ROOT,
    requires_no_gpu,
    requires_shared_cifar10,
    write_jpeg_archive,
)


def bench(*args, env=None, cwd=REPO_ROOT):
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--model", "no_such_model"], "unknown model 'no_such_model'"),
        (["--framework", "mxnet"], "unknown framework 'mxnet'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--dataset", "mnist"], "unknown dataset 'mnist'"),
        (["--suite", "nightly"], "unknown suite 'nightly'"),
        (["--recipe", "sgd-magic"], "unknown recipe 'sgd-magic'"),
        (["--batch-size", "0"], "--batch-size"),
        (["--batch-size", "-32"], "--batch-size"),
        (["--batch-size", "many"], "not an integer"),
        (["--epochs", "0"], "--epochs"),
        (["--seeds", "-1"], "--seeds"),
        (["--train-subset", "1.5"], "not an integer"),
        # The shared copy's decoded arrays are the user cache's (real_data): decoding them again costs 9 s.
        pytest.param(
            ["--train-subset", "999999"],
            "larger than the training split",
            marks=[requires_shared_cifar10, pytest.mark.real_data],
        ),
        (["--data-dir", "/nonexistent/cifar"], "--data-dir /nonexistent/cifar is not a directory"),
        (
            ["--dataset", "synthetic", "--val-size", "100", "--train-subset", "500", "--batch-size", "100000"],
            "--batch-size 100000 is larger than the 500 training images",
        ),
        (["--dataset", "synthetic", "--val-size", "100", "--train-subset", "5"], "fewer images than the 10 classes"),
        (
            ["--dataset", "synthetic", "--model", "r0_deep_cnn", "--recipe", "r0", "--val-size", "0"],
            "recipe r0 watches validation figures",
        ),
        (["--modle", "r0_deep_cnn"], "did you mean --model?"),
        (["--model", "r2_vanila_cnn"], "unknown model 'r2_vanila_cnn'; did you mean r2_vanilla_cnn?"),
        (["--recipe", "r2_squeezent"], "did you mean r2_squeezenet?"),
        (["--suite", "paper-cpu"], "did you mean papers-cpu?"),
    ],
)
def test_bad_run_arguments(args, fragment, tmp_path):
    assert_one_line_error(bench("run", "--results", str(tmp_path), *args), fragment)


def test_an_explicit_data_dir_without_the_dataset_is_refused_not_replaced(tmp_path):
    # The shared copy would be found without --data-dir; an explicit directory is used or refused.
    (tmp_path / "empty").mkdir()
    result = bench("run", "--data-dir", str(tmp_path / "empty"), "--results", str(tmp_path / "out"))
    assert_one_line_error(result, "holds no CIFAR-10", "cifar10-jpeg.tar.gz")


def test_legal_but_odd_runs_get_a_warning():
    from bench.cli.run import warnings_for
    from bench.spec.suites import get_suite
    from tests.test_end_to_end import synthetic_trial

    plain, compiled = synthetic_trial(), synthetic_trial(amp="bf16", compile="default")
    assert warnings_for("cpu", get_suite("default"), [plain]) == []
    assert [line.split(" ")[0] for line in warnings_for("cpu", get_suite("gpu"), [plain, compiled])] == [
        "suite",
        "speed",
    ]
    assert warnings_for("cuda", get_suite("gpu"), [compiled]) == []


def test_small_things_of_the_command_line():
    piped = subprocess.run(
        f"{sys.executable} -m bench list | head -1", shell=True, capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert piped.stdout.startswith("model") and "Traceback" not in piped.stderr and "Error" not in piped.stderr
    suites = json.loads(bench("list", "--suites", "--json").stdout)
    assert {"default", "gpu", "gpu-smoke", "common-gpu"} <= {suite["name"] for suite in suites}
    helped = bench("--help").stdout
    assert all(command in helped for command in ("list", "run", "report", "compare", "import"))


def test_missing_dataset_names_the_places_looked(tmp_path):
    result = bench(
        "run",
        "--dataset",
        "cifar100",
        "--results",
        str(tmp_path / "out"),
        env={"HOME": str(tmp_path), "CNNBENCH_CACHE": str(tmp_path / "cache")},
    )
    assert_one_line_error(result, "CIFAR-100 not found", "download cache", "without --offline (CNNBENCH_OFFLINE)")


def test_corrupt_archive_is_refused(tmp_path):
    archive = write_jpeg_archive(tmp_path)
    archive.with_name(archive.name + ".sha256").write_text("f" * 64 + "\n")
    result = bench(
        "run",
        "--data-dir",
        str(tmp_path),
        "--results",
        str(tmp_path / "out"),
        env={"CNNBENCH_CACHE": str(tmp_path / "cache")},
    )
    assert_one_line_error(result, "corrupt")


def test_results_path_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "results"
    path.write_text("not a directory")
    assert_one_line_error(
        bench("run", "--dataset", "synthetic", "--val-size", "100", "--train-subset", "500", "--results", str(path)),
        "not writable",
    )


@requires_no_gpu
def test_cuda_without_a_gpu_is_refused(tmp_path):
    pytest.importorskip("torch")
    assert_one_line_error(
        bench("run", "--device", "cuda", "--framework", "torch", "--results", str(tmp_path)),
        "torch sees no GPU",
        "cnnbench[gpu]",
    )


@requires_no_gpu
def test_cuda_keras_whose_backend_sees_no_gpu_is_refused_before_the_sweep(tmp_path):
    if missing_framework("keras", "cuda"):
        pytest.skip(f"FRAMEWORK SKIPPED: {missing_framework('keras', 'cuda')}")
    result = bench("run", "--device", "cuda", "--framework", "keras", "--results", str(tmp_path))
    assert_one_line_error(result, "keras's jax backend sees no GPU", "cnnbench[gpu]")
    assert not list((tmp_path / "raw").glob("*.json"))


def test_list_imports_no_framework():
    code = (
        "import sys; from bench.cli import main; main(['list', '--json']);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'tensorflow', 'keras', 'jax')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    *listing, imported = result.stdout.strip().splitlines()
    assert imported == "[]"
    models = {row["model"]: row for row in json.loads("\n".join(listing))}
    assert {"r2_vanilla_cnn", "r3_deep_cnn"} <= set(models)
    assert models["r2_vanilla_cnn"]["params_trainable"] == 2_122_186


def test_a_missing_framework_is_skipped_with_its_reason(tmp_path):
    # A keras backend that is not installed stands in for a missing framework.
    missing = {"KERAS_BACKEND": "no_such_backend"}
    listing = bench("list", env=missing)
    assert listing.returncode == 0
    assert "keras (skipped: keras backend 'no_such_backend' (KERAS_BACKEND) is not installed)" in listing.stdout
    run = bench(
        "run",
        "--model",
        "r2_vanilla_cnn",
        "--framework",
        "torch",
        "keras",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--train-subset",
        "200",
        "--val-size",
        "100",
        "--results",
        str(tmp_path),
        env=missing,
    )
    assert run.returncode == 0, run.stderr
    assert "skipped r2_vanilla_cnn keras[no_such_backend] cpu bs128 seed0: keras backend" in run.stderr
    assert "sweep finished: 1 ok" in run.stderr
    (result,) = (tmp_path / "raw").glob("*.json")
    record = json.loads(result.read_text())
    assert record["dataset"]["label"] == "SYNTHETIC (timing only)"
    # No path of this machine in the record: the results directory was given as an absolute path.
    assert record["provenance"]["command"].startswith("python -m bench run ")
    assert str(tmp_path) not in result.read_text() and str(REPO_ROOT) not in result.read_text()


def test_readme_models_table_rows_are_generated_ones():
    """Every row of the README's table is the registry's, figures included; a model added since may be missing
    (adding a model touches only its folder) until the table is regenerated."""
    generated = bench("list", "--markdown").stdout.splitlines()
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("<!-- models:start -->\n")[1].split("<!-- models:end -->")[0].splitlines()
    assert table[:2] == generated[:2] and len(table) > 2
    stale = [row for row in table[2:] if row not in generated]
    assert not stale, f"regenerate with: python -m bench list --markdown; stale: {stale}"


def test_list_measured_counts_equal_the_spec_in_every_framework():
    result = bench("list", "--json", "--measured")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["model"] for row in rows] == [row["model"] for row in json.loads(bench("list", "--json").stdout)]
    assert all(row["interpretation"] for row in rows)  # what each spec chose where its report was silent
    installed = [fw for fw in FRAMEWORK_NAMES if not missing_framework(fw)]
    assert installed, "no framework installed: nothing was measured"
    for row in rows:
        for framework in installed:  # a framework that is installed must have measured every model
            counts = row["params_measured"][framework]
            assert counts == [row["params_trainable"], row["params_non_trainable"]], (row["model"], framework)


def entries_for(*argv):
    from bench.cli import build_parser
    from bench.cli.run import resolve_suite

    return resolve_suite(build_parser().parse_args(["run", *argv]))[1]


def test_model_with_a_named_suite_keeps_that_suites_recipe_and_budget():
    (entry,) = entries_for("--suite", "reports-quick", "--model", "r0_deep_cnn", "--epochs", "1")
    assert (entry.recipe, entry.train_subset, entry.epochs) == ("r0", 2000, 1)
    assert "budget scaled" in entry.note
    (bare,) = entries_for("--model", "r0_deep_cnn")
    assert (bare.recipe, bare.train_subset, bare.epochs) == ("baseline", None, None)


def test_a_model_outside_the_named_suite_is_a_one_line_error(tmp_path):
    result = bench("run", "--suite", "skeleton", "--model", "resnet18", "--results", str(tmp_path))
    assert_one_line_error(result, "model 'resnet18' is not in suite 'skeleton'")


def test_dry_run_lists_trials_and_an_estimate_and_runs_nothing(tmp_path):
    args = [
        "run",
        "--model",
        "r2_vanilla_cnn",
        "--framework",
        "torch",
        "--dataset",
        "synthetic",
        "--epochs",
        "2",
        "--train-subset",
        "500",
        "--val-size",
        "100",
        "--seeds",
        "0",
        "1",
        "--results",
        str(tmp_path),
        "--dry-run",
    ]
    env = {"CNNBENCH_CACHE": str(tmp_path / "own-cache")}  # not the session's calibrations
    first = bench(*args, env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert lines[1].startswith("r2_vanilla_cnn torch cpu bs128 seed0") and "500" in lines[1]
    assert lines[-1].startswith("2 trials (0 done), 4 epochs to run; roughly ~") and " min on this machine" in lines[-1]
    assert not list((tmp_path / "raw").glob("*.json")) and not (tmp_path / "calibration").exists()
    (cached,) = (tmp_path / "own-cache" / "calibration").glob("*.json")
    again = bench(*args, env=env)  # the machine's calibration is taken from the cache, not measured again
    assert again.stdout == first.stdout and [*(tmp_path / "own-cache" / "calibration").glob("*.json")] == [cached]


def test_learning_rates_are_crossed_with_batch_sizes_and_seeds_as_r4s_grid():
    from bench.run.expansion import expand

    entries = entries_for("--model", "r4_simple_cnn", "--recipe", "r4_simple")
    trials, _ = expand(entries, ["torch"], "cpu", [32, 64], [0, 1], learning_rates=[0.01, 0.1, 0.5])
    assert len(trials) == 12 and len({t.trial_id for t in trials}) == 12
    assert {(t.batch_size, t.learning_rate) for t in trials} == {(b, r) for b in (32, 64) for r in (0.01, 0.1, 0.5)}
    assert trials[0].label() == "r4_simple_cnn torch cpu bs32 lr0.01 seed0"
    assert trials[0].resolved_recipe().learning_rate == 0.01


def test_a_run_piped_to_a_file_shows_each_epoch_as_it_happens(tmp_path):
    # The trial hangs after its first epoch (until its timeout): that epoch's line must be out by then.
    args = [
        "run",
        "--dataset",
        "synthetic",
        "--model",
        "r2_vanilla_cnn",
        "--framework",
        "torch",
        "--epochs",
        "2",
        "--train-subset",
        "200",
        "--val-size",
        "100",
        "--threads",
        "1",
        "--no-calibration",
        "--trial-timeout",
        "60",
        "--results",
        str(tmp_path),
    ]
    sweep = subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "CNNBENCH_FAULT": "sleep@1"},
        start_new_session=True,
    )
    try:
        line = next(line for line in sweep.stderr if not line.startswith("results: "))
        assert sweep.poll() is None  # still running: the line came as the epoch ended, not at exit
        assert line.startswith("epoch 1/2 r2_vanilla_cnn torch cpu bs128 seed0: train loss ") and " s\n" in line
    finally:
        os.killpg(sweep.pid, signal.SIGKILL)  # the sweep and its hung trial
        sweep.wait()


@pytest.mark.skipif(bool(shutil.which("nvidia-smi")), reason="NOX CUDA CHECK SKIPPED: this machine has a GPU driver")
def test_nox_bench_on_cuda_without_a_driver_fails_before_installing_anything(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nox", "--envdir", str(tmp_path / "envs"), "-s", "bench", "--", "--device", "cuda"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "nvidia-smi is not on PATH" in result.stderr, result.stderr
    assert "pip install" not in result.stderr


def test_the_tests_session_times_benchmarks_only_when_asked():
    import noxfile

    assert noxfile._pytest_args(["-k", "parity"]) == ["--benchmark-disable", "--numprocesses", "2", "-k", "parity"]
    assert noxfile._pytest_args(["--benchmark-only"]) == ["--benchmark-only"]
    notified = []
    session = SimpleNamespace(
        posargs=["--benchmark-save=here"], notify=lambda target, posargs: notified.append((target, posargs))
    )
    noxfile.benchmark(session)  # in the tests session's environment: one install serves both
    assert notified == [("tests", ["--benchmark-only", "--benchmark-save=here"])]


def test_nox_bench_gives_the_budget_to_the_run_to_check_and_to_the_report_to_answer():
    import noxfile

    ran = []
    session = SimpleNamespace(
        posargs=["--budget", "20m", "--epochs", "1", "--reference=results", "--results", "out"],
        install=lambda *args: None,
        run=lambda *args: ran.append(args[3:]),
    )
    noxfile.bench(session)
    run = ("run", "--budget", "20m", "--epochs", "1", "--reference=results", "--results", "out")
    assert ran == [run, ("report", "--results", "out", "--budget", "20m", "--reference=results")]


def test_benchmarks_time_the_quick_set_unless_asked_for_more():
    def collected(*args):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-p",
                "no:cacheprovider",
                "tests/benchmarks/test_epoch_speed.py",
                *args,
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            # a pytest of its own: under xdist (the suite's -n 2) pytest-benchmark would see a worker and refuse
            env={name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST")},
        )
        return result, re.findall(r"<Function test_training_epoch\[(.+)-(?:torch|keras)\]>", result.stdout)

    result, models = collected("--benchmark-only")
    assert "the quick set, about" in result.stdout and "--benchmark-models all" in result.stdout
    assert sorted(models) == sorted(2 * QUICK_BENCHMARK_MODELS)
    assert len(collected("--benchmark-only", "--benchmark-models", "all")[1]) == 2 * len(registry.model_names())
    assert len(collected("--benchmark-disable")[1]) == 2 * len(registry.model_names())  # the suite's smoke run
    refused, _ = collected("--benchmark-only", "--benchmark-models", "r2_vanila_cnn")
    assert refused.returncode != 0 and "unknown model r2_vanila_cnn" in refused.stderr


def test_a_run_without_results_goes_to_a_folder_of_its_own_and_resume_finds_it(tmp_path):
    args = [
        "run",
        "--dataset",
        "synthetic",
        "--model",
        "r2_vanilla_cnn",
        "--framework",
        "torch",
        "--epochs",
        "1",
        "--train-subset",
        "200",
        "--val-size",
        "100",
        "--threads",
        "1",
        "--no-calibration",
    ]
    first = bench(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert (
        f"results: runs/{folder.name} (its leaderboard: python -m bench report --results runs/{folder.name})"
        in first.stderr
        and len(list((folder / "raw").glob("*.json"))) == 1
    )
    again = bench(*args, "--resume", cwd=tmp_path)
    assert "1 already done (resumed)" in again.stderr and [*(tmp_path / "runs").iterdir()] == [folder]
    assert not (tmp_path / "results").exists()


def test_a_refused_sweep_leaves_no_folder_behind(tmp_path):
    refused = bench(
        "run",
        "--dataset",
        "synthetic",
        "--val-size",
        "100",
        "--train-subset",
        "500",
        "--batch-size",
        "100000",
        "--results",
        str(tmp_path / "out"),
    )
    assert_one_line_error(refused, "--batch-size 100000 is larger than the 500 training images")
    assert not (tmp_path / "out").exists()

"""Fault injection: every failure is a recorded outcome, and no earlier result is lost or changed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.cli import build_parser
from bench.errors import BenchError
from bench.results import store
from bench.run import runner, trial_process
from tests.conftest import FRAMEWORKS, REPO_ROOT, write_code_running_batch, write_official_dir
from tests.test_cli import assert_one_line_error, bench
from tests.test_end_to_end import synthetic_trial

SWEEP = [
    "run",
    "--dataset",
    "synthetic",
    "--model",
    "r2_vanilla_cnn",
    "--framework",
    "torch",
    "--seeds",
    "0",
    "1",
    "2",
    "--epochs",
    "2",
    "--train-subset",
    "500",
    "--val-size",
    "100",
    "--threads",
    "1",
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_exploding_loss_is_diverged(tmp_path, framework):
    summary = runner.run_sweep(
        [
            synthetic_trial(
                framework=framework,
                learning_rate=1e12,
                epochs=3,
                backend="tensorflow" if framework == "keras" else None,
            )
        ],
        tmp_path,
    )
    (record,) = store.load(tmp_path)
    assert summary.counts["diverged"] == 1, record["error"]
    assert record["status"] == "diverged" and "training loss is nan" in record["error"].lower()


@pytest.mark.parametrize(
    "fault, status, message",
    [
        ("oom@1", "oom", "simulated out of memory"),
        ("kill@1", "crashed", "killed by signal 9"),
    ],
)
def test_injected_fault_is_recorded_with_the_epochs_before_it(tmp_path, monkeypatch, fault, status, message):
    monkeypatch.setenv("CNNBENCH_FAULT", fault)
    runner.run_sweep([synthetic_trial(epochs=2)], tmp_path)
    (record,) = store.load(tmp_path)
    assert record["status"] == status and message in record["error"]
    assert [e["epoch"] for e in record["epochs"]] == [1]


def test_hung_trial_is_stopped_by_the_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBENCH_FAULT", "sleep@1")
    runner.run_sweep([synthetic_trial()], tmp_path, trial_timeout=10)  # hung from epoch 1, or still starting
    (record,) = store.load(tmp_path)
    assert record["status"] == "timeout"


def start_sweep(results) -> subprocess.Popen:
    """The sweep as a terminal's foreground job: in a group of its own, Ctrl-C (SIGINT) at its default action
    even where these tests run as a background job, whose shell ignores SIGINT for everything it starts."""
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *SWEEP, "--results", str(results)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_results(results, count: int, process: subprocess.Popen) -> list:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = sorted((results / "raw").glob("*.json"))
        if len(files) >= count:
            return files
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("no result appeared in time")


def test_ctrl_c_keeps_finished_trials_and_exits_130(tmp_path):
    sweep = start_sweep(tmp_path)
    (first,) = wait_for_results(tmp_path, 1, sweep)
    os.killpg(sweep.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground group
    _, stderr = sweep.communicate(timeout=60)
    assert sweep.returncode == 130
    assert "Traceback" not in stderr and "interrupted: 1 ok" in stderr
    assert [p.name for p in (tmp_path / "raw").iterdir()] == [first.name]


def test_sigterm_to_the_sweep_alone_stops_its_trial_keeps_finished_ones_and_exits_130(tmp_path):
    sweep = start_sweep(tmp_path)
    (first,) = wait_for_results(tmp_path, 1, sweep)
    deadline, workers = time.monotonic() + 30, []
    while not workers and time.monotonic() < deadline:  # the next trial's process
        workers = psutil.Process(sweep.pid).children()
        time.sleep(0.05)
    assert workers
    os.kill(sweep.pid, signal.SIGTERM)  # `kill PID`: the sweep only, not its trial
    _, stderr = sweep.communicate(timeout=60)
    assert sweep.returncode == 130 and "Traceback" not in stderr
    assert [p.name for p in (tmp_path / "raw").iterdir()] == [first.name]
    assert not [worker for worker in workers if worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE]


def test_a_worker_that_dies_before_reading_its_trial_is_a_crashed_row_not_a_broken_pipe(monkeypatch):
    # Ctrl-C can kill a trial's process before it reads its config; writing that config then raised
    # BrokenPipeError in the driver, which ended the sweep with exit code 0.
    real_popen = subprocess.Popen

    def dying_worker(args, **kwargs):
        worker = real_popen([sys.executable, "-c", "import os, sys; os.close(0); sys.exit(3)"], **kwargs)
        worker.wait()
        return worker

    monkeypatch.setattr(trial_process.subprocess, "Popen", dying_worker)
    outcome = trial_process.run_trial(synthetic_trial(), None, lambda event: None)
    assert outcome["status"] == "crashed" and "exit code 3" in outcome["error"]


def test_kill_9_then_resume_finishes_exactly_the_rest(tmp_path):
    sweep = start_sweep(tmp_path)
    (first,) = wait_for_results(tmp_path, 1, sweep)
    content = first.read_bytes()
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    assert [p.name for p in (tmp_path / "raw").iterdir() if not p.name.endswith(".tmp")] == [first.name]
    resumed = bench(*SWEEP, "--results", str(tmp_path), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 ok, 1 already done (resumed)" in resumed.stderr
    records = store.load(tmp_path)
    assert sorted(r["config"]["seed"] for r in records) == [0, 1, 2]
    assert first.read_bytes() == content


def test_resume_knows_a_result_of_an_earlier_version_by_what_it_trained(tmp_path):
    trial = synthetic_trial(recipe="common")
    runner.run_sweep([trial], tmp_path)
    (path,) = (tmp_path / "raw").glob("*.json")
    record = json.loads(path.read_text())
    # As an earlier version wrote it: another id, the paper under its old name and other prose, and a schedule
    # without a field added since at its default (in the trained recipe and in the config's hashed part).
    path.unlink()
    path = path.with_name(path.name.replace(record["trial_id"][:10], "0123456789"))  # files are named by id
    record["trial_id"] = "0123456789abcdef"
    for recipe in (record["recipe"], record["config"]["resolved_recipe"]):
        recipe.update(report="r9", deviations=["worded otherwise"])
        recipe["schedule"].pop("warmup_epochs", None)
    path.write_text(json.dumps(record))
    assert runner.run_sweep([trial], tmp_path, resume=True).skipped_done == 1

    # Trained otherwise, though stored under today's id (as if a default had changed since): another trial, which runs.
    record["recipe"]["schedule"]["kind"] = "step"
    path.unlink()
    path = path.with_name(path.name.replace("0123456789", trial.trial_id[:10]))
    record["trial_id"] = trial.trial_id
    path.write_text(json.dumps(record))
    summary = runner.run_sweep([trial], tmp_path, resume=True)
    assert summary.skipped_done == 0 and summary.counts["ok"] == 1


def test_a_record_whose_config_no_longer_describes_a_trial_is_known_by_its_stored_id_alone():
    record = {"trial_id": "0123456789abcdef", "status": "crashed", "config": {"model": "r2_vanilla_cnn"}}  # no recipe
    assert store.recorded_trial_id(record) is None
    assert store.by_trial_id([record]) == {"0123456789abcdef": record}


def test_of_two_results_of_one_trial_the_successful_one_stands_for_it():
    ok = {"trial_id": "0123456789abcdef", "status": "ok", "finished_at": "2026-01-01T00:00:00+00:00", "config": {}}
    crashed_later = {**ok, "status": "crashed", "finished_at": "2026-02-01T00:00:00+00:00"}
    assert store.by_trial_id([ok, crashed_later])["0123456789abcdef"] is ok


def test_malicious_dataset_pickle_is_refused_from_the_cli(tmp_path):
    folder = write_official_dir(tmp_path, "cifar10", per_file=3)
    marker = tmp_path / "pwned"
    write_code_running_batch(folder, "test_batch", marker)
    result = bench("run", "--data-dir", str(tmp_path), "--results", str(tmp_path / "out"))
    assert_one_line_error(result, "refused to load posix.system")
    assert not marker.exists()


INTEGER_FLAGS = ["--batch-size", "--epochs", "--train-subset", "--threads", "--trial-timeout"]


def is_positive_integer(text: str) -> bool:
    try:
        return int(text) > 0
    except ValueError:
        return False


@settings(max_examples=80, deadline=None)
@given(
    flag=st.sampled_from(INTEGER_FLAGS),
    text=st.one_of(
        st.integers(max_value=0).map(str),
        st.floats().map(repr),
        st.text(min_size=1).filter(lambda t: not is_positive_integer(t)),
    ),
)
def test_non_positive_or_non_integer_values_are_refused(flag, text):
    with pytest.raises(BenchError):
        build_parser().parse_args(["run", flag, text])


@settings(max_examples=60, deadline=None)
@given(flag=st.sampled_from(INTEGER_FLAGS), value=st.integers(min_value=1, max_value=10**9))
def test_positive_integers_are_accepted(flag, value):
    args = build_parser().parse_args(["run", flag, str(value)])
    parsed = getattr(args, flag.lstrip("-").replace("-", "_"))
    assert parsed == [value] if isinstance(parsed, list) else parsed == value


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(max_value=-1))
def test_negative_seeds_are_refused(seed):
    with pytest.raises(BenchError):
        build_parser().parse_args(["run", "--seeds", str(seed)])


def test_two_concurrent_resumable_sweeps_run_each_trial_once(tmp_path):
    args = [
        "run",
        "--model",
        "r2_vanilla_cnn",
        "--framework",
        "torch",
        "--dataset",
        "synthetic",
        "--epochs",
        "1",
        "--train-subset",
        "200",
        "--val-size",
        "100",
        "--seeds",
        "0",
        "1",
        "2",
        "--results",
        str(tmp_path),
        "--resume",
        "--no-calibration",
        "--threads",
        "1",
    ]
    sweeps = [
        subprocess.Popen(
            [sys.executable, "-m", "bench", *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [sweep.communicate(timeout=600) for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0], outputs
    records = store.load(tmp_path)
    assert sorted(r["config"]["seed"] for r in records) == [0, 1, 2]
    assert len({r["trial_id"] for r in records}) == 3
    assert not list((tmp_path / "claims").glob("*.claim"))


def test_a_claim_left_by_a_dead_process_is_taken_over(tmp_path):
    trial = synthetic_trial()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    (tmp_path / "claims").mkdir()
    (tmp_path / "claims" / f"{trial.trial_id}.claim").write_text(
        json.dumps({"pid": int(dead), "host": socket.gethostname(), "since": "2026-01-01T00:00:00+00:00"})
    )
    live = tmp_path / "claims" / "other.claim"
    live.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    assert store.claim(tmp_path, "other") is None  # held by a live process: left alone
    reused = tmp_path / "claims" / "reused.claim"  # this pid, but a process started at another time
    reused.write_text(json.dumps({"pid": os.getpid(), "created": 1.0, "host": socket.gethostname()}))
    assert store.claim(tmp_path, "reused") == reused and json.loads(reused.read_text())["created"] != 1.0
    summary = runner.run_sweep([trial], tmp_path)
    assert summary.counts["ok"] == 1 and summary.skipped_claimed == 0


def test_a_claim_held_by_a_zombie_is_taken_over(tmp_path):
    # Where nothing reaps an orphan at once (containers), a sweep killed with SIGKILL stays a zombie: it holds no claim.
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # never waited for until the end: a zombie meanwhile
    try:
        deadline = time.monotonic() + 30
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.05)
        holder = {"pid": zombie.pid, "created": psutil.Process(zombie.pid).create_time(), "host": socket.gethostname()}
        (tmp_path / "claims").mkdir()
        (tmp_path / "claims" / "held.claim").write_text(json.dumps(holder))
        assert store.claim(tmp_path, "held") == tmp_path / "claims" / "held.claim"
    finally:
        zombie.wait()

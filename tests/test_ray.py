"""The Ray executor on a local Ray instance: the same rows as the local executor, retries of a lost
worker, resume, and a one-line error without Ray."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from bench.results import store
from bench.run import runner
from tests.conftest import REPO_ROOT
from tests.ray_multinode import OUTCOME
from tests.test_cli import assert_one_line_error, bench
from tests.test_end_to_end import synthetic_trial

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="RAY EXECUTOR SKIPPED: no ray")
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="RAY EXECUTOR SKIPPED: no torch")


@pytest.fixture
def ray_executor(local_ray):
    from bench.run.ray_executor import RayExecutor

    return RayExecutor()


def two_trials():
    """Two trials that differ in seed and batch size (each costs a worker process per executor)."""
    return [synthetic_trial(seed=seed, batch_size=batch, epochs=2) for seed, batch in ((0, 32), (1, 64))]


@needs_ray
@needs_torch
def test_a_sweep_on_ray_gives_the_local_rows_and_resumes(tmp_path, ray_executor):
    runner.run_sweep(two_trials(), tmp_path / "local")
    summary = runner.run_sweep(two_trials(), tmp_path / "ray", executor=ray_executor)
    assert summary.counts["ok"] == 2
    local, on_ray = ({r["trial_id"]: r for r in store.load(tmp_path / side)} for side in ("local", "ray"))
    assert set(local) == set(on_ray)
    for trial_id, record in on_ray.items():
        assert record["executor"] == "ray" and local[trial_id]["executor"] == "local"
        assert record["test"]["accuracy"] == local[trial_id]["test"]["accuracy"]
    # One timed CPU trial per node at a time: the sweep's two trials never overlap (other processes on the
    # machine, such as the suite's other worker, may run beside either, and its records would count them).
    first, second = sorted(on_ray.values(), key=lambda record: record["started_at"])
    assert first["finished_at"] <= second["started_at"]
    again = runner.run_sweep(two_trials(), tmp_path / "ray", resume=True, executor=ray_executor)
    assert again.skipped_done == 2 and sum(again.counts.values()) == 0


@needs_ray
@needs_torch
def test_a_trial_whose_ray_worker_dies_is_retried_then_recorded_as_crashed(tmp_path, ray_executor, monkeypatch):
    monkeypatch.setenv("CNNBENCH_FAULT", "kill-parent@1")  # the trial kills the Ray worker running it
    summary = runner.run_sweep([synthetic_trial(epochs=2)], tmp_path, executor=ray_executor)
    assert summary.counts["crashed"] == 1
    (record,) = store.load(tmp_path)
    assert record["error"].startswith("Ray lost the trial after 1 retry")
    assert not list((tmp_path / "claims").glob("*.claim"))


@needs_ray
@needs_torch
def test_on_a_cluster_of_nodes_trials_spread_records_come_back_and_a_lost_node_retries_then_crashes(tmp_path):
    """Ray's own multi-node test cluster (tests/ray_multinode.py, in a process of its own): two worker nodes share
    four trials and every record reaches the driver; a trial whose node dies is retried on another node from its
    checkpoint, and when that node dies too it is a crashed row."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.ray_multinode", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        # not the variables a Ray instance of this process set (RAY_AUTH_MODE=token): the cluster's own GCS would
        # look for a token it was never given and crash
        env={name: value for name, value in os.environ.items() if not name.startswith("RAY_")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith(OUTCOME)]
    outcome = json.loads(line.removeprefix(OUTCOME))
    spread, lost = outcome["spread"], outcome["node_lost"]
    assert (spread["ok"], spread["records"]) == (4, 4)
    assert spread["ran_on"] == outcome["worker_nodes"] and len(outcome["worker_nodes"]) == 2
    assert lost["first_node_epoch"] >= 1 and lost["retry_resumed_at_epoch"] > lost["first_node_epoch"]
    assert lost["status"] == "crashed" and lost["error"].startswith("Ray lost the trial after 1 retry"), lost


def test_the_ray_executor_without_ray_is_a_one_line_error(tmp_path):
    code_without_ray = {"PYTHONPATH": str(tmp_path)}
    (tmp_path / "ray.py").write_text("raise ImportError('no ray here')\n")
    result = bench("run", "--executor", "ray", "--results", str(tmp_path / "out"), env=code_without_ray)
    assert_one_line_error(result, "--executor ray needs Ray", "cnnbench[ray]")
    assert_one_line_error(
        bench("run", "--executor", "slurm", "--results", str(tmp_path / "out")), "unknown executor 'slurm'"
    )

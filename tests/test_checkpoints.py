"""Checkpoints (bench.run.checkpoints): a trial killed after an epoch goes on from it with --resume and ends where
an uninterrupted run ends, weights and test scores alike, in every framework."""

from __future__ import annotations

import json

import pytest

from bench.measure import provenance
from bench.results import store
from bench.run.checkpoints import FORMAT, Checkpoints
from tests.conftest import FRAMEWORKS
from tests.test_cli import bench

# r2's recipe: flip and crop (augmentation's generator), dropout (the framework's), BatchNorm, Adam and its plateau.
TRIAL = "--dataset synthetic --model r2_tuned_cnn --recipe r2 --epochs 3 --train-subset 128 --val-size 32 "
TRIAL += "--test-subset 50 --threads 1 --seeds 0"


def only_record(results) -> dict:
    (record,) = store.load(results)
    return record


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_trial_killed_after_epoch_2_resumes_there_and_ends_with_the_uninterrupted_runs_weights(tmp_path, framework):
    args = [*TRIAL.split(), "--framework", framework]
    uninterrupted = bench("run", *args, "--results", str(tmp_path / "whole"))
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    # The sweep itself is killed (SIGKILL) once epoch 2 ends, before its checkpoint: the worst moment, as a stopped
    # session kills it. Epoch 1's checkpoint is the last.
    killed = bench("run", *args, "--results", str(tmp_path / "cut"), env={"CNNBENCH_FAULT": "kill-parent@2"})
    assert killed.returncode != 0 and not list((tmp_path / "cut" / "raw").glob("*.json"))
    resumed = bench("run", *args, "--results", str(tmp_path / "cut"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    whole, cut = only_record(tmp_path / "whole"), only_record(tmp_path / "cut")
    assert cut["model"]["trained_weights_sha256"] == whole["model"]["trained_weights_sha256"]
    assert cut["test"] == whole["test"]
    figures = ("train_loss", "train_accuracy", "learning_rate", "val_loss", "val_accuracy")
    assert [[e[k] for k in figures] for e in cut["epochs"]] == [[e[k] for k in figures] for e in whole["epochs"]]
    assert [e["process"] for e in cut["epochs"]] == [1, 2, 2] and [e["process"] for e in whole["epochs"]] == [1] * 3
    assert [(p["first_epoch"], p["last_epoch"]) for p in cut["processes"]] == [(1, 1), (2, 3)]
    assert all(p["startup_s"] > 0 for p in cut["processes"])
    here = provenance.this_machine()  # both processes ran here: every epoch counts on one machine
    assert {p["machine"] for p in cut["processes"]} == {e["machine"] for e in cut["epochs"]} == {here}
    assert cut["timing"]["steady_epochs"] == 1  # epoch 2 warmed up a new process: epoch 3 alone is steady
    assert not list((tmp_path / "cut" / "checkpoints").glob("*/*"))  # removed once the record was written


def test_a_sweep_without_resume_starts_a_cut_trial_afresh(tmp_path):
    args = [*TRIAL.split(), "--framework", "torch", "--epochs", "2", "--results", str(tmp_path)]
    killed = bench("run", *args, env={"CNNBENCH_FAULT": "kill-parent@2"})
    assert killed.returncode != 0
    (kept,) = (tmp_path / "checkpoints").glob("*/epoch-0001")
    assert [e["epoch"] for e in json.loads((kept / "harness.json").read_text())["epochs"]] == [1]
    afresh = bench("run", *args)
    assert afresh.returncode == 0, afresh.stderr
    record = only_record(tmp_path)
    assert record["status"] == "ok" and [(p["first_epoch"], p["last_epoch"]) for p in record["processes"]] == [(1, 2)]


def test_only_a_whole_epochs_checkpoint_is_read_and_the_older_ones_go(tmp_path):
    checkpoints = Checkpoints(tmp_path / "trial")
    assert checkpoints.load("0123456789abcdef") is None
    for epoch in (1, 2):
        harness = {"format": FORMAT, "trial_id": "0123456789abcdef", "epoch": epoch}
        checkpoints.save(epoch, harness, lambda folder: (folder / "weights").write_text("w"))
    (tmp_path / "trial" / "epoch-0003.partial").mkdir()  # a kill while epoch 3 was being written
    harness, folder = checkpoints.load("0123456789abcdef")
    assert harness["epoch"] == 2 and (folder / "weights").read_text() == "w"
    assert checkpoints.load("fedcba9876543210") is None  # another trial's: not this one's to go on from
    assert sorted(p.name for p in (tmp_path / "trial").iterdir()) == ["epoch-0002", "epoch-0003.partial"]

    def failing(folder):
        raise OSError("disk full")

    with pytest.raises(OSError):
        checkpoints.save(3, {"epoch": 3}, failing)
    assert checkpoints.load("0123456789abcdef")[0]["epoch"] == 2

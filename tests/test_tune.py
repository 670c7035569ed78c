"""`bench tune`: model parameters as name options, Optuna studies of ordinary trials, pruning, resuming
a killed search without repeating candidates, and no test score before the final trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import optuna
import pytest

from bench.errors import BenchError
from bench.results import store
from bench.run import runner, tune
from bench.spec import registry
from bench.spec.searches import R2_TUNED_CNN
from tests.conftest import REPO_ROOT
from tests.test_cli import assert_one_line_error, bench
from tests.test_end_to_end import synthetic_trial
from tests.test_faults import wait_for_results

TUNE = [
    "tune",
    "--model",
    "r2_tuned_cnn",
    "--dataset",
    "synthetic",
    "--train-subset",
    "256",
    "--val-size",
    "128",
    "--threads",
    "1",
]


def test_model_parameters_are_typed_canonical_name_options():
    name = registry.variant("r2_tuned_cnn", filters1=16, kernel=5, dropout=0.3, dense=256)
    assert name == "r2_tuned_cnn:filters1=16,kernel=5,dropout=0.3"  # defaults left out, declared order
    assert registry.parse(name) == ("r2_tuned_cnn", {"filters1": 16, "kernel": 5, "dropout": 0.3})
    assert registry.variant("r2_tuned_cnn", filters1=32) == "r2_tuned_cnn"
    assert name not in registry.model_names()  # numbers are not listed as models of their own
    conv1 = registry.layers(name, 10)[0]
    assert (conv1.filters, conv1.kernel) == (16, 5)


@pytest.mark.parametrize(
    "name, message",
    [
        ("r2_tuned_cnn:kernel=4", "kernel must be odd"),
        ("r2_tuned_cnn:dropout=1.5", "dropout must be float in [0.0, 0.95]"),
        ("r2_tuned_cnn:filters1=wide", "filters1 must be int"),
        ("r2_tuned_cnn:depth=3", "numeric options of r2_tuned_cnn"),
    ],
)
def test_bad_model_parameters_are_refused(name, message):
    with pytest.raises(BenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        registry.parse(name)


def test_a_stop_reason_from_on_epoch_ends_the_trial_as_pruned(tmp_path):
    summary = runner.run_sweep(
        [synthetic_trial(epochs=3)], tmp_path, on_epoch=lambda config, event: "enough" if event["epoch"] == 1 else None
    )
    (record,) = store.load(tmp_path)
    assert summary.counts["pruned"] == 1
    assert record["status"] == "pruned" and record["error"] == "enough"
    assert [epoch["epoch"] for epoch in record["epochs"]] == [1]


def test_the_median_pruner_stops_a_candidate_below_the_finished_ones():
    study = optuna.create_study(
        direction="maximize",
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=tune.PRUNER_STARTUP_CANDIDATES, n_warmup_steps=tune.PRUNER_WARMUP_EPOCHS
        ),
    )
    distributions = tune.distributions(R2_TUNED_CNN)
    for accuracy in (0.5, 0.6):
        params = {key: (d.choices[0] if hasattr(d, "choices") else d.low) for key, d in distributions.items()}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                value=accuracy,
                intermediate_values={1: accuracy, 2: accuracy},
            )
        )
    tuned = tune.Study(R2_TUNED_CNN, synthetic_trial(model="r2_tuned_cnn", epochs=2), study, {})
    weak, strong = study.ask(distributions), study.ask(distributions)
    weak_config, strong_config = tuned.config(weak.number, weak.params), tuned.config(strong.number, strong.params)
    tuned.running = {weak_config.trial_id: weak, strong_config.trial_id: strong}
    assert "median pruner after epoch 1" in tuned.on_epoch(weak_config, {"epoch": 1, "val_accuracy": 0.1})
    assert tuned.on_epoch(strong_config, {"epoch": 1, "val_accuracy": 0.7}) is None


def candidates_and_finals(results):
    records = [r for r in store.load(results) if r["config"].get("search")]
    candidates = sorted(
        (r for r in records if r["config"]["search"]["role"] == "candidate"),
        key=lambda r: r["config"]["search"]["candidate"],
    )
    return candidates, [r for r in records if r["config"]["search"]["role"] == "final"]


def test_a_killed_search_continues_without_repeating_candidates_and_scores_test_once(tmp_path):
    args = [*TUNE, "--framework", "torch", "--trials", "3", "--epochs", "2", "--results", str(tmp_path)]
    search = subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    (first,) = wait_for_results(tmp_path, 1, search)
    content = first.read_bytes()
    os.killpg(search.pid, signal.SIGKILL)
    search.wait()

    resumed = bench(*args)
    assert resumed.returncode == 0, resumed.stderr
    candidates, finals = candidates_and_finals(tmp_path)
    assert [r["config"]["search"]["candidate"] for r in candidates] == [0, 1, 2]  # none twice
    drawn = [json.dumps(r["config"]["search"]["parameters"], sort_keys=True) for r in candidates]
    assert len(set(drawn)) == 3  # a continued study draws new parameters, not its first ones again
    assert first.read_bytes() == content
    # Candidates never saw the test set; the final trial scored it once, after every candidate.
    assert all(r.get("test") is None for r in candidates)
    assert all(r["dataset"]["test_size"] == 0 for r in candidates if r["status"] == "ok")
    (final,) = finals
    assert final["test"]["accuracy"] is not None and final["dataset"]["test_size"] == 1000
    assert final["started_at"] >= max(r["finished_at"] for r in candidates)
    best = max(
        (r for r in candidates if r["status"] == "ok"),
        key=lambda r: (tune.objective(r), -r["config"]["search"]["candidate"]),
    )
    assert final["config"]["search"]["parameters"] == best["config"]["search"]["parameters"]
    assert final["config"]["model"] == best["config"]["model"]

    storage = tune.storage_for(None, tmp_path)
    (summary,) = optuna.get_all_study_summaries(storage)
    assert summary.n_trials == 3 and f"study {summary.study_name}: " in resumed.stderr
    for path in (tmp_path / "raw").glob("*.json"):  # as an earlier cnnbench version wrote them: other ids
        record = json.loads(path.read_text())
        stored, record["trial_id"] = record["trial_id"], record["trial_id"][::-1]
        path.unlink()
        path.with_name(path.name.replace(stored[:10], record["trial_id"][:10])).write_text(json.dumps(record))
    again = bench(*args)  # a finished study: nothing runs again, and its final trial is found by what it trained
    assert again.returncode == 0 and len(store.load(tmp_path)) == 4, again.stderr
    assert "best candidate" in again.stderr


def test_a_study_refuses_other_settings_under_its_name(tmp_path):
    common = [*TUNE, "--framework", "torch", "--trials", "1", "--results", str(tmp_path), "--study", "s"]
    assert bench(*common, "--epochs", "1").returncode == 0
    assert_one_line_error(bench(*common, "--epochs", "2"), "study 's-torch' was run with other settings (epochs)")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "r2_vanilla_cnn", "--trials", "2"], "no search space for model 'r2_vanilla_cnn'"),
        (["--model", "r2_tuned_cnn", "--trials", "2", "--val-size", "0"], "--val-size must be > 0"),
        (["--model", "r2_tuned_cnn", "--trials", "0"], "must be an integer >= 1"),
        (
            ["--model", "r2_tuned_cnn", "--trials", "2", "--train-subset", "50", "--val-size", "100"],
            "batch sizes reach 128, more than the 50 training images",
        ),
    ],
)
def test_bad_tune_input_is_one_line(tmp_path, args, message):
    assert_one_line_error(bench("tune", "--dataset", "synthetic", "--results", str(tmp_path), *args), message)


def test_a_database_url_holds_the_study_and_stays_out_of_the_record(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    result = bench(
        *TUNE,
        "--framework",
        "torch",
        "--trials",
        "2",
        "--epochs",
        "1",
        "--results",
        str(tmp_path / "out"),
        "--storage",
        url,
    )
    assert result.returncode == 0, result.stderr
    (summary,) = optuna.get_all_study_summaries(url)
    assert summary.n_trials == 2 and not (tmp_path / "out" / "searches").exists()
    command = store.load(tmp_path / "out")[0]["provenance"]["command"]
    assert "--storage sqlite:///" in command and str(tmp_path) not in command


def test_a_database_password_is_never_recorded():
    from bench.paths import portable_command

    assert (
        portable_command(["python", "--storage", "postgresql://me:secret@db/studies"])
        == "python --storage postgresql://me:***@db/studies"
    )


def test_report_of_a_results_directory_with_searches_only(tmp_path):
    from bench.report import leaderboard
    from tests.test_report import search_record

    for record in (search_record(0, 0.4), search_record(1, 0.5), search_record(1, 0.5, role="final", test=0.45)):
        store.write(tmp_path, {k: v for k, v in record.items() if k != "_file"})
    path = leaderboard.write_leaderboard(tmp_path)
    assert "## Searches" in path.read_text() and "45.0 (n=1)" in path.read_text()


def test_a_candidate_killed_while_its_parameters_were_drawn_is_completed_not_a_key_error(tmp_path):
    """A kill between Optuna's `ask` and its last parameter leaves a running trial with some parameters
    (seen in CI); the next run draws the missing ones, keeps the drawn ones and runs it under its number."""
    base = synthetic_trial(model="r2_tuned_cnn", train_subset=256, val_size=128)
    study = tune.open_study(R2_TUNED_CNN, base, "killed-mid-ask", tune.storage_for(None, tmp_path), seed=0)
    space = tune.distributions(R2_TUNED_CNN)
    half_drawn = study.optuna_study.ask({"batch_size": space["batch_size"]})

    outcome = tune.run_study(study, 1, tmp_path, 1, {})
    (candidate,), finals = candidates_and_finals(tmp_path)
    assert candidate["config"]["search"]["candidate"] == half_drawn.number == 0
    assert candidate["config"]["batch_size"] == half_drawn.params["batch_size"]
    assert set(candidate["config"]["search"]["parameters"]) == set(space)
    assert outcome["final"] is not None and len(finals) == 1

"""A real sweep on a small slice of the shared CIFAR-10: run, report, resume; and trial faults."""

from __future__ import annotations

import json
import shutil

import pytest

from bench.results import store
from bench.run import runner
from bench.spec.config import TrialConfig
from bench.spec.execution import EXECUTION_OPTIONS, Execution
from tests.conftest import REPO_ROOT, SHARED_ARCHIVE, details_text, leaderboard_text, requires_shared_cifar10
from tests.test_cli import bench

pytestmark = pytest.mark.real_data
SLICE = [
    "--model",
    "r2_vanilla_cnn",
    "--framework",
    "torch",
    "keras",
    "--device",
    "cpu",
    "--epochs",
    "2",
    "--train-subset",
    "2000",
    "--val-size",
    "1000",
    "--data-dir",
    str(SHARED_ARCHIVE.parent),
    "--no-calibration",
]


@requires_shared_cifar10
def test_real_run_beats_chance_then_reports_and_resumes(tmp_path):
    results = tmp_path / "results"
    first = bench("run", *SLICE, "--results", str(results))
    assert first.returncode == 0, first.stderr
    records = store.load(results)
    assert sorted(r["config"]["framework"] for r in records) == ["keras", "torch"]
    for record in records:
        assert record["status"] == "ok"
        assert record["test"]["accuracy"] > 0.25, record["config"]["framework"]  # chance is 0.10
        assert record["dataset"]["label"] == "CIFAR-10 (JPEG q75 copy)"
        assert record["dataset"]["train_size"] == 2000 and record["dataset"]["test_size"] == 10000
        assert len(record["epochs"]) == 2 and record["timing"]["epoch_median_s"] > 0
        assert sum(map(sum, record["test"]["confusion_matrix"])) == 10000
        assert record["provenance"]["packages"]["numpy"]
        assert record["model"]["params_trainable"] == 2_122_186
    keras_record = next(r for r in records if r["config"]["framework"] == "keras")
    assert keras_record["settings"]["backend"] == keras_record["config"]["backend"]

    made = bench("report", "--results", str(results))
    assert made.returncode == 0, made.stderr
    text, details = (results / "leaderboard.md").read_text(), (results / "details.md").read_text()
    assert "| r2_vanilla_cnn | torch" in details and "| r2_vanilla_cnn | keras (tensorflow)" in details
    framework_answer = text.split("- Which framework: ")[1].splitlines()[0]
    assert framework_answer.startswith("no converged answer on this machine yet"), "2 epochs answer nothing"
    assert "### " in details.split("## Frameworks")[1].split("\n## ")[0], "the smoke pair stands in details.md"
    plot_files = sorted(p.name for p in (results / "plots").glob("*.png"))
    assert text == leaderboard_text(store.load(results), plot_files)
    assert details == details_text(store.load(results), plot_files)
    assert (results / "plots" / "curves-r2-vanilla-cnn-baseline-2ep-2000img.png").exists()
    assert (results / "tables" / "results.csv").read_text().startswith("model,")

    files_before = {p.name: p.read_bytes() for p in (results / "raw").glob("*.json")}
    again = bench("run", *SLICE, "--results", str(results), "--resume")
    assert again.returncode == 0, again.stderr
    assert "2 already done (resumed)" in again.stderr
    assert {p.name: p.read_bytes() for p in (results / "raw").glob("*.json")} == files_before


def synthetic_trial(**overrides) -> TrialConfig:
    values = dict(
        model="r2_vanilla_cnn",
        framework="torch",
        device="cpu",
        batch_size=64,
        seed=0,
        epochs=1,
        dataset="synthetic",
        train_subset=200,
        val_size=100,
        test_subset=200,
        threads=1,
    )
    speed = {name: overrides.pop(name) for name in list(overrides) if name in EXECUTION_OPTIONS}
    return TrialConfig(**{**values, **overrides}, execution=Execution(**speed))


def test_a_failing_trial_becomes_a_row_and_the_sweep_goes_on(tmp_path):
    broken = synthetic_trial(model="no_such_model")
    summary = runner.run_sweep([broken, synthetic_trial()], tmp_path)
    assert summary.counts["crashed"] == 1 and summary.counts["ok"] == 1
    rows = {r["config"]["model"]: r for r in store.load(tmp_path)}
    assert "unknown model 'no_such_model'" in rows["no_such_model"]["error"]
    assert rows["r2_vanilla_cnn"]["status"] == "ok"
    assert "## Failed trials" in details_text(store.load(tmp_path))


def test_a_trial_past_its_timeout_is_stopped_and_recorded(tmp_path):
    summary = runner.run_sweep([synthetic_trial(epochs=50)], tmp_path, trial_timeout=0.5)
    assert summary.counts["timeout"] == 1
    (record,) = store.load(tmp_path)
    assert record["status"] == "timeout" and "--trial-timeout" in record["error"]


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """One small sweep for the tests that read results: a configuration run with two seeds, 3 epochs each."""
    results = tmp_path_factory.mktemp("two-seeds")
    runner.run_sweep([synthetic_trial(seed=0, epochs=3), synthetic_trial(seed=1, epochs=3)], results)
    return results


def copy_of(records: list[dict], results) -> None:
    """`records` (as store.load gives them) written into another results directory."""
    for record in records:
        store.write(results, {key: value for key, value in record.items() if key != "_file"})


def test_report_skips_corrupt_and_newer_files_with_a_warning(tmp_path, two_seeds):
    copy_of(store.load(two_seeds)[:1], tmp_path)
    raw = tmp_path / "raw"
    (raw / "truncated.json").write_text('{"schema_version": 1, "trial_')
    (raw / "foreign.json").write_text(json.dumps({"hello": "world"}))
    (raw / "future.json").write_text(json.dumps({"schema_version": 99, "trial_id": "x"}))
    with pytest.warns(UserWarning) as caught:
        records = store.load(tmp_path)
    assert len(records) == 1
    warned = " ".join(str(w.message) for w in caught)
    for name in ("truncated.json", "foreign.json", "future.json"):
        assert name in warned


def test_corrupt_calibration_and_yardstick_files_are_skipped_with_a_warning(tmp_path):
    from bench.run import yardstick

    for folder in (store.CALIBRATION_DIR, store.YARDSTICK_DIR):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a_good.json").write_text(json.dumps({"seed": 0}))
        (tmp_path / folder / "b_truncated.json").write_text('{"seed": ')
    with pytest.warns(UserWarning, match="b_truncated.json"):
        assert store.load_calibrations(tmp_path) == [{"seed": 0}]
    with pytest.warns(UserWarning, match="b_truncated.json"):
        assert yardstick.load(tmp_path) == [{"seed": 0}]


def test_compare_a_result_set_with_itself_is_within_noise(two_seeds):
    result = bench("compare", str(two_seeds), str(two_seeds))
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| r2_vanilla_cnn")]
    assert len(rows) == 1 and rows[0].count("within noise") == 2 and "2/2" in rows[0]


def test_compare_flags_a_slower_set_and_exits_non_zero(tmp_path, two_seeds):
    old, new = two_seeds, tmp_path / "new"
    records = store.load(old)
    for record in records:
        for epoch in record["epochs"]:
            epoch["epoch_time_s"] *= 3  # the same trials, three times slower
    copy_of(records, new)
    result = bench("compare", str(old), str(new), "--json")
    assert result.returncode == 1
    (row,) = json.loads(result.stdout)
    assert row["time"] == "slower" and row["Mann-Whitney p"] < 0.05 and row["accuracy"] == "within noise"


def test_compare_of_single_runs_gives_no_verdict_and_exits_zero(tmp_path, two_seeds):
    # The same configuration run twice, one seed each: the epoch times differ, but one run is no noise estimate.
    old, new = tmp_path / "old", tmp_path / "new"
    records = store.load(two_seeds)[:1]
    copy_of(records, old)
    for epoch in records[0]["epochs"]:
        epoch["epoch_time_s"] *= 1.5
    copy_of(records, new)
    result = bench("compare", str(old), str(new), "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["time"] == row["accuracy"] == "no noise estimate" and row["epoch time new/old"] == 1.5


def test_compare_across_machines_normalises_by_calibration(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    runner.run_sweep([synthetic_trial(epochs=2)], old, calibration=True)
    (calibration,) = store.load_calibrations(old)
    assert calibration["conv_s"] > 0 and calibration["matmul_s"] > 0 and calibration["threads"] == 1
    (record,) = store.load(old)
    record.pop("_file")
    record["provenance"]["cpu"] = "a machine twice as slow"
    for epoch in record["epochs"]:
        epoch["epoch_time_s"] *= 2
    store.write(new, record)
    store.write_calibration(new, {**calibration, "conv_s": 2 * calibration["conv_s"]})
    result = bench("compare", str(old), str(new))
    header, _, row = result.stdout.splitlines()[:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in row.split("|")]))
    assert cells["epoch time new/old"] == "2"
    assert cells["epoch time new/old, normalised by calibration (other machine)"] == "1"


def test_bench_report_regenerates_every_committed_file_byte_for_byte(tmp_path):
    committed = REPO_ROOT / "results"
    live = shutil.ignore_patterns("checkpoints", "claims")  # a running sweep's state, not results (never committed)
    shutil.copytree(committed, tmp_path / "results", ignore=live)
    derived_files = [p for p in (tmp_path / "results").rglob("*") if p.is_file() and p.parent.name != "raw"]
    for path in derived_files:
        if path.suffix in (".md", ".csv", ".png") and "calibration" not in path.parts:
            path.unlink()  # whatever bench report does not write again is missing afterwards
    made = bench("report", "--results", str(tmp_path / "results"))
    assert made.returncode == 0, made.stderr
    for original in derived_files:
        again = tmp_path / "results" / original.relative_to(tmp_path / "results")
        assert again.exists(), f"bench report no longer writes {again.name}"
        assert again.read_bytes() == (committed / again.relative_to(tmp_path / "results")).read_bytes(), again.name


def test_a_report_recipe_row_stands_beside_the_published_figure(tmp_path):
    trial = synthetic_trial(model="r3_deep_cnn", recipe="r3", epochs=1, note="a tiny budget")
    runner.run_sweep([trial], tmp_path)
    (record,) = store.load(tmp_path)
    assert record["budget"] == {
        "epochs": 1,
        "paper_epochs": 15,
        "train_images": 200,
        "full_training_set": False,
        "matches_paper": False,
        "note": "a tiny budget",
    }
    text = details_text(store.load(tmp_path))
    section = text.split("## Reported vs reproduced")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith("| r3 "))
    assert "82.0 % test" in row and "no: a tiny budget" in row and "SYNTHETIC" in row

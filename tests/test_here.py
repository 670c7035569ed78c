"""Your machine's answer (bench.report.here): accuracy from converged reference rows, time measured here."""

from __future__ import annotations

import copy
import hashlib

import pytest

from bench.cli.arguments import duration_seconds
from bench.report import frame, here
from bench.report.labels import hardware_label
from bench.report.leaderboard import write_leaderboard
from bench.results import store
from tests.test_cli import assert_one_line_error, bench
from tests.test_report import paper_record

HERE_CPU = "Another CPU"  # the user's machine: another label and fingerprint than the reference's
REFERENCE_CPU = "Reference CPU"


def named(name: str) -> tuple[str, str]:
    """A record's file name and a trial id of its own (16 hex digits, as the store wants)."""
    return f"{name}.json", hashlib.sha256(name.encode()).hexdigest()[:16]


def reference_part(model, framework, accuracy, seed=0, epochs_run=50, batch_size=64, lr_scaling="none", reached=None):
    """A converged row of the reference: `model` at its paper's budget, stopped early after `epochs_run` epochs;
    `reached`: the epoch validation accuracy first reached its target."""
    record = paper_record(framework, accuracy, seed=seed, model=model, batch_size=batch_size)
    record["epochs"] = record["epochs"][:epochs_run]
    record["provenance"]["cpu"] = REFERENCE_CPU
    record["config"]["lr_scaling"] = lr_scaling
    record["time_to_accuracy"].update(epoch=reached, target=0.6, train_seconds=reached and 10.0 * reached)
    record["_file"], record["trial_id"] = named(f"ref-{model}-{framework}-{batch_size}-{seed}")
    return record


def timing_here(model, framework, images_per_s, batch_size=64, recipe="r2", loaded=False) -> dict:
    """A timing trial of the default suite on this machine: 2 epochs on 2,048 images at `images_per_s`."""
    record = paper_record(framework, 0.2, epochs=2, model=model, batch_size=batch_size)
    record["config"].update(recipe=recipe, train_subset=2048, test_subset=512)
    record["budget"].update(full_training_set=False)
    record["provenance"]["cpu"] = HERE_CPU
    record["timing"]["train_images_per_s"] = images_per_s
    record["machine"] = {"hostname": "here", "other_trials_max": 1 if loaded else 0}
    record["_file"], record["trial_id"] = named(f"here-{model}-{framework}-{batch_size}")
    return record


def r3(framework, accuracy, seed=0):
    record = reference_part("r3_deep_cnn", framework, accuracy, seed=seed, epochs_run=15, batch_size=128)
    record["config"].update(recipe="r3", epochs=15)
    record["budget"].update(epochs=15, paper_epochs=15)
    return record


REFERENCE = [
    r3("torch", 0.83),
    reference_part("r2_vanilla_cnn", "torch", 0.79, seed=0, epochs_run=50),
    reference_part("r2_vanilla_cnn", "torch", 0.78, seed=1, epochs_run=30),  # stopped early: 40 epochs median
    reference_part("r2_vanilla_cnn", "keras", 0.785, epochs_run=40),
]
# r3: 15 epochs x 45,000 images at 250/s = 45 min; r2_vanilla_cnn: 40 x 45,000 at 2,500/s = 12 min
REFERENCE_MACHINE = here.short_machine(hardware_label(REFERENCE[0]))
HERE = [
    timing_here("r3_deep_cnn", "torch", 250.0, batch_size=128, recipe="r3"),
    timing_here("r2_vanilla_cnn", "torch", 2500.0),
    timing_here("r2_vanilla_cnn", "keras", 2000.0),
]


def lines(run, reference=REFERENCE, budget_s=None) -> list[str]:
    reference_trials = frame.trial_frame(reference)
    return here.here_lines(frame.trial_frame(run), reference_trials, frame.configurations(reference_trials), budget_s)


def answer(run, question, **kwargs) -> str:
    (line,) = [line for line in lines(run, **kwargs) if line.startswith(f"- {question}")]
    return line


def test_which_cnn_ranks_reference_accuracy_with_the_training_time_measured_here():
    line = answer(HERE, "Which CNN")
    assert line.startswith("- Which CNN: r3_deep_cnn (torch) 83.0 % (reference n=1, Reference CPU #")
    # the reference's epochs (its early stop: median 40 of r2's 50) over its 45,000 images at the speed here
    assert "about 45 min of training here; next r2_vanilla_cnn 78.5 %, about 12 min here: one seed" in line
    slower = [timing_here("r3_deep_cnn", "torch", 125.0, batch_size=128, recipe="r3"), *HERE[1:]]
    assert "about 90 min of training here" in answer(slower, "Which CNN")


def test_a_budget_picks_the_most_accurate_part_that_trains_within_it_here():
    assert "Within" not in "".join(lines(HERE))  # no budget asked, no budget line
    fits_both = answer(HERE, "Within", budget_s=3600)
    assert fits_both.startswith("- Within 60 min: r3_deep_cnn (torch) 83.0 %") and "2 of 2 parts fit" in fits_both
    one_fits = answer(HERE, "Within", budget_s=20 * 60)
    assert one_fits.startswith("- Within 20 min: r2_vanilla_cnn (torch) 78.5 ± 0.7 % (reference n=2")
    assert "about 12 min here; 1 of 2 parts fit: the only one that fits" in one_fits
    assert "no part trains within 5 min here; the fastest, r2_vanilla_cnn (torch), takes about 12 min" in answer(
        HERE, "Within", budget_s=300
    )


def test_which_framework_gives_the_ratio_measured_here_and_parity_from_the_reference():
    line = answer(HERE, "Which framework")
    assert line == (
        "- Which framework: keras (tensorflow) / torch epoch time here 1.25x (median of 1 configuration); "
        f"accuracy at convergence (reference): 1 not shown (±1 pt, {REFERENCE_MACHINE})"
    )
    loaded = [*HERE[:2], timing_here("r2_vanilla_cnn", "keras", 2000.0, loaded=True)]
    assert "1.25x† (median" in answer(loaded, "Which framework")
    # a quiet timing of another part outweighs the loaded one: its ratio alone, unmarked
    quiet = [*loaded, timing_here("r3_deep_cnn", "keras", 200.0, batch_size=128, recipe="r3")]
    assert "here 1.25x (median of 1 configuration)" in answer(quiet, "Which framework")
    # the same part converged on a second machine: parity counts the machine with the most pairs, once
    elsewhere = [copy.deepcopy(record) for record in REFERENCE[1:]]
    for record in elsewhere:
        record["provenance"]["cpu"] = "Third CPU"
    both = answer(HERE, "Which framework", reference=REFERENCE + elsewhere)
    assert both.endswith(f"1 not shown (±1 pt, {REFERENCE_MACHINE})")


def test_a_timing_of_another_precision_or_a_one_epoch_timing_matches_no_reference_row():
    bf16 = timing_here("r2_vanilla_cnn", "torch", 9000.0)
    bf16["config"]["amp"] = "bf16"
    assert lines([bf16]) == []  # the reference trained in float32: its accuracy does not carry
    one_epoch = timing_here("r2_vanilla_cnn", "torch", 9000.0)
    one_epoch["epochs"], one_epoch["timing"]["steady_epochs"] = one_epoch["epochs"][:1], 0
    assert lines([one_epoch]) == []  # its time holds the warm-up


def frontier(batch, accuracies, reached):
    return [
        reference_part("r2_vanilla_cnn", "torch", a, seed=s, batch_size=batch, lr_scaling="sqrt", reached=reached)
        for s, a in enumerate(accuracies)
    ]


def test_which_batch_size_reads_the_reference_frontier_at_the_speeds_measured_here():
    assert answer(HERE, "Which batch size") == (
        "- Which batch size: no reference batch-size frontier yet (`python -m bench run --suite frontier-cpu "
        "--resume`, hours)"
    )
    speeds = [timing_here("r2_vanilla_cnn", "torch", ips, batch_size=b) for b, ips in ((64, 2500.0), (256, 5000.0))]
    throughput = answer([HERE[0], *speeds], "Which batch size")
    assert throughput.endswith("; r2_vanilla_cnn's images/s per batch size here are in the table below")
    reference = REFERENCE + frontier(64, (0.80, 0.81), reached=10) + frontier(256, (0.76, 0.77), reached=15)
    line = answer([HERE[0], *speeds], "Which batch size", reference=reference)
    # batch 64: 80.5 %, 50 epochs at 2,500/s = 15 min; to 60 %: 10 epochs = 3 min, batch 256: 15 epochs = 2 min
    assert line == (
        f"- Which batch size: r2_vanilla_cnn (torch), reference frontier ({REFERENCE_MACHINE}, n=2, "
        "lr rule `sqrt`): most accurate batch 64, 80.5 % (beyond the noise) in about 15 min here; fastest to 60 % "
        "validation: batch 256, about 2 min here"
    )
    # one run at batch 256 never reached 60 %: its median epoch no longer makes it the fastest
    partly = frontier(256, (0.76,), reached=15) + frontier(256, (0.77,), reached=None)
    partly[1]["config"]["seed"], partly[1]["trial_id"] = 1, "f" * 16
    line = answer([HERE[0], *speeds], "Which batch size", reference=REFERENCE + frontier(64, (0.80, 0.81), 10) + partly)
    assert line.endswith("fastest to 60 % validation: batch 64, about 3 min here")


def test_data_without_reference_rows_says_so_and_shows_the_times_measured_here():
    folder = copy.deepcopy(HERE[1])
    folder["config"]["dataset"] = "folder"
    text = "\n".join(lines([folder]))
    assert f"- {here.NO_REFERENCE}" in text and "| r2_vanilla_cnn | torch" in text and "2,500" in text
    assert lines([timing_here("resnet18", "torch", 900.0)]) == []  # the reference's data, no part of it: nothing
    official = [copy.deepcopy(record) for record in HERE]
    for record in official:
        record["dataset"]["label"] = "CIFAR-10 (official python)"
    assert "(reference n=1, Reference CPU #" in answer(official, "Which CNN")
    assert ", on CIFAR-10 (JPEG q75 copy))" in answer(official, "Which CNN")  # the reference's images are named


def write_folders(root, **folders: list[dict]) -> None:
    """Each list of records as the raw results of the folder of its name under `root`."""
    for folder, records in folders.items():
        for record in records:
            store.write(root / folder, {key: value for key, value in record.items() if key != "_file"})


def test_the_report_answers_for_this_machine_first_and_the_cli_refuses_a_bad_budget(tmp_path):
    write_folders(tmp_path, run=HERE, reference=REFERENCE)
    text = write_leaderboard(tmp_path / "run", tmp_path / "reference", budget_s=1200).read_text()
    assert text.index("## Your machine") < text.index("- Within 20 min: r2_vanilla_cnn")
    assert f"**{HERE_CPU}" in text and "## Answers" not in text  # this machine is answered once, from the reference
    assert "## Your machine" not in write_leaderboard(tmp_path / "run").read_text()
    run = str(tmp_path / "run")
    for options, message in (
        (["--budget", "5x"], "'5x' is not a duration such as 20m, 90s or 1.5h"),
        (["--budget", "0m"], "'0m' is not"),
        (["--reference", "none", "--budget", "20m"], "--budget needs reference results"),
        (["--reference", run], "is the folder being reported"),
        (["--reference", str(tmp_path)], "is not a results directory (no raw/ in it)"),
    ):
        assert_one_line_error(bench("report", "--results", run, *options), message)
    refused = bench("run", "--budget", "5x", "--results", str(tmp_path / "never"))  # checked before anything runs
    assert_one_line_error(refused, "'5x' is not a duration") and not (tmp_path / "never").exists()
    unanswered = bench("report", "--results", str(tmp_path / "reference"), "--reference", run, "--budget", "1h")
    assert unanswered.returncode == 0 and "warning: --budget: no part timed in this run" in unanswered.stderr


def test_a_run_with_converged_rows_of_its_own_keeps_its_answers(tmp_path):
    own = [reference_part("r2_vanilla_cnn", "torch", 0.70, seed=s) for s in (0, 1)]
    for record in own:
        record["provenance"]["cpu"] = HERE_CPU
    write_folders(tmp_path, run=HERE + own, reference=REFERENCE)
    text = write_leaderboard(tmp_path / "run", tmp_path / "reference").read_text()
    assert "## Your machine" in text and "## Answers" in text and text.count(f"**{HERE_CPU}") == 2


@pytest.mark.parametrize("text, seconds", [("20m", 1200), ("90s", 90), ("1.5h", 5400), ("45", 2700)])
def test_a_budget_reads_as_people_write_durations(text, seconds):
    assert duration_seconds(text) == seconds

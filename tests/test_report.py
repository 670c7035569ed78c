"""The leaderboard's derived tables, from records varied off one committed raw result (no training)."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

from bench.frameworks import missing_framework
from bench.report import (
    answers,
    batch_tables,
    cells,
    details,
    evidence,
    frame,
    markdown,
    pairs,
    plots,
    reproduction,
    search_report,
    tables,
)
from bench.report.labels import hardware_label
from bench.results import schema, store
from tests import framework_jobs as jobs
from tests.conftest import REPO_ROOT, details_text, leaderboard_text

TEMPLATE = schema.read(  # a committed result, read as the current schema version
    json.loads(next(iter(sorted((REPO_ROOT / "results" / "raw").glob("r2_vanilla_cnn_torch_*.json")))).read_text())
)


def record_like(
    model="r2_vanilla_cnn",
    framework="torch",
    recipe="common",
    seed=0,
    accuracy=0.5,
    epoch_s=2.0,
    batch_size=128,
    lr_scaling="none",
    learning_rate=1e-3,
    flops=15e6,
    seconds_to_target=None,
) -> dict:
    """A copy of a real result with the fields a table reads set to known values."""
    record = copy.deepcopy(TEMPLATE)
    record["config"].update(
        model=model,
        framework=framework,
        recipe=recipe,
        seed=seed,
        batch_size=batch_size,
        lr_scaling=lr_scaling,
        epochs=3,
        backend="tensorflow" if framework == "keras" else None,
    )
    record["recipe"]["paper"] = None
    record["dataset"]["train_size"] = 2000
    record["test"]["accuracy"] = accuracy
    record["timing"]["epoch_median_s"] = epoch_s
    record["model"]["forward_flops_per_image"] = int(flops)
    record["time_to_accuracy"] = {
        "target": 0.3,
        "train_seconds": seconds_to_target,
        "epoch": None,
        "wall_seconds": None,
    }
    for epoch in record["epochs"]:
        epoch["learning_rate"] = learning_rate
    record["_file"] = f"{model}-{framework}-{recipe}-{batch_size}-{seed}.json"
    record["trial_id"] = record["_file"]  # each a trial of its own, not a repeat
    return record


def configs_of(records):
    return frame.configurations(frame.trial_frame(records))


def test_architectures_rank_common_recipe_models_by_mean_accuracy_over_seeds():
    records = [
        record_like("r2_vanilla_cnn", seed=s, accuracy=a, epoch_s=t) for s, a, t in ((0, 0.40, 1.0), (1, 0.44, 3.0))
    ]
    records += [record_like("r3_deep_cnn", seed=0, accuracy=0.50, flops=250.4e6)]
    records += [record_like("r1_vgg_cnn", recipe="r1", accuracy=0.90)]  # another recipe: not an architecture row
    table = tables.architectures_table(configs_of(records))
    assert list(table["model"]) == ["r3_deep_cnn", "r2_vanilla_cnn"]
    assert list(table["test acc % (mean ± std, n)"]) == ["50.00 (n=1)", "42.00 ± 2.83 (n=2)"]
    assert list(table["MFLOPs/image"]) == ["250.4", "15.0"]
    assert list(table["epoch s (median, range over seeds)"]) == ["2.0", "2.0 (1.0-3.0)"]
    assert "## Architectures" in details_text(records) and "## Architectures" not in leaderboard_text(records)


def test_no_common_recipe_results_leave_the_architectures_section_out():
    records = [record_like(recipe="baseline"), record_like("r3_deep_cnn", recipe="baseline")]
    assert tables.architectures_table(configs_of(records)).empty
    assert "## Architectures" not in details_text(records)


def test_summary_names_a_best_model_only_where_two_models_compete():
    alone = details.summary_lines(configs_of([record_like(seed=s, accuracy=0.4 + s / 100) for s in range(3)]))
    assert not any("best test accuracy" in line for line in alone)
    records = [
        record_like("r2_vanilla_cnn", accuracy=0.40),
        record_like("r3_deep_cnn", accuracy=0.55, seed=0),
        record_like("r3_deep_cnn", accuracy=0.45, seed=1),
    ]
    (line,) = [line for line in details.summary_lines(configs_of(records)) if "best test accuracy" in line]
    assert "**r3_deep_cnn** (torch, fast) 50.00 ± 7.07 % (n=2)" in line
    assert "best other model **r2_vanilla_cnn** (torch, fast) 40.00 % (n=1)" in line
    assert line.endswith("lead 10.00 pt, no interval with a single seed.")


def test_summary_lead_is_judged_against_the_seed_noise():
    def lead_line(spread):
        records = [
            record_like(m, seed=s, accuracy=base + sign * spread)
            for m, base in (("r3_deep_cnn", 0.50), ("r2_vanilla_cnn", 0.45))
            for s, sign in ((0, 1), (1, -1))
        ]
        return next(line for line in details.summary_lines(configs_of(records)) if "best test accuracy" in line)

    # Welch: both stds 0.14 pt, 1 + 1 degrees of freedom, t = 4.30
    assert "lead 5.00 ± 0.61 pt (95 % CI), beyond the seed noise" in lead_line(0.001)
    assert "within the seed noise" in lead_line(0.05)


def test_summary_names_the_fastest_to_target_among_those_reaching_it_every_seed():
    records = [
        record_like("r2_vanilla_cnn", seed=0, seconds_to_target=2.0),
        record_like("r2_vanilla_cnn", seed=1, seconds_to_target=None),  # one seed fell short
        record_like("r3_deep_cnn", seconds_to_target=30.0),
    ]
    (line,) = [line for line in details.summary_lines(configs_of(records)) if line.startswith("- Fastest to")]
    assert "**r3_deep_cnn**" in line and "in 30 s of training" in line and "1 of 2 configurations" in line


def test_batch_size_rows_carry_their_learning_rate_and_rule():
    records = [record_like(batch_size=b, lr_scaling="linear", learning_rate=1e-3 * b / 128) for b in (64, 256)]
    table = batch_tables.batch_size_table(frame.trial_frame(records))
    assert list(table["lr (epoch 1), rule"]) == ["0.0005, linear", "0.002, linear"]


@pytest.mark.parametrize("frameworks", [("torch",), ("torch", "keras")])
def test_pareto_plot_per_budget_marks_the_front(tmp_path, frameworks):
    records = [
        record_like(m, framework=f, accuracy=a, epoch_s=t)
        for f in frameworks
        for m, a, t in (("r2_vanilla_cnn", 0.4, 1.0), ("r3_deep_cnn", 0.5, 10.0), ("r1_vgg_cnn", 0.3, 5.0))
    ]
    configs = configs_of(records)
    front = plots.pareto_front(configs[configs["framework"] == "torch"])
    assert list(configs.loc[front, "model"]) == ["r2_vanilla_cnn", "r3_deep_cnn"]  # r1_vgg_cnn: slower and worse
    (path,) = plots.pareto(configs, tmp_path)
    assert path.name == "pareto-amd-epyc-2-threads-4f69d0-3ep-2000img.png" and path.stat().st_size > 10_000


def test_report_rows_stand_beside_every_published_figure():
    records = [record_like("r0_deep_cnn", recipe="r0", batch_size=b, accuracy=0.80, epoch_s=30.0) for b in (64, 256)]
    for record in records:
        record["recipe"]["paper"] = "r0"
    # one row: batch 64 is r0's own; the batch-size sweep's other rows belong to the Batch size table
    (row,) = reproduction.reported_table(frame.trial_frame(records)).to_dict("records")
    assert row["batch"] == 64
    assert len(reproduction.reported_table(frame.trial_frame(records[1:]))) == 1  # no batch-64 row: batch 256 stands
    assert row["reported accuracy"] == "87.1 % test"  # 87.05 %
    assert row["difference (pt)"] == "-7.1"
    assert row["reported params"] == "2,300,000" and row["reported epoch time"] == "11.4 min (CPU)"
    assert row["our epoch s"].startswith("30.0 (")


def test_r0_batch_rows_carry_the_reports_own_batch_table():
    records = [record_like("r0_deep_cnn", recipe="r0", batch_size=b, epoch_s=t) for b, t in ((32, 8.0), (256, 2.0))]
    table = batch_tables.batch_size_table(frame.trial_frame(records))
    assert list(table["epoch time ÷ smallest batch's"]) == ["1.00", "0.25"]
    assert list(table["reported: min/epoch (÷ smallest), test acc"]) == ["60 (1.00), 84 %", "12 (0.20), 78 %"]
    other_recipe = [record_like("r0_deep_cnn", recipe="common", batch_size=b) for b in (32, 256)]
    assert set(
        batch_tables.batch_size_table(frame.trial_frame(other_recipe))["reported: min/epoch (÷ smallest), test acc"]
    ) == {"-"}


def test_learning_curves_one_figure_per_model_recipe_and_budget_seeds_averaged(tmp_path):
    records = [record_like(framework=f, seed=s) for f in ("torch", "keras") for s in (0, 1, 2)]
    records += [record_like(recipe="baseline")]
    paths = plots.learning_curves(records, tmp_path)
    assert sorted(p.name for p in paths) == [
        "curves-r2-vanilla-cnn-baseline-3ep-2000img.png",
        "curves-r2-vanilla-cnn-common-3ep-2000img.png",
    ]


def test_a_one_epoch_learning_curve_is_drawn_as_points(tmp_path, monkeypatch):
    import matplotlib.axes

    drawn, plot = [], matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **k: drawn.append(k) or plot(self, *a, **k))
    record = record_like()
    record["epochs"] = record["epochs"][:1]
    plots.learning_curves([record], tmp_path)
    assert len(drawn) == 2 and all(kwargs["marker"] == "o" for kwargs in drawn)


def test_keras_backends_stay_apart_in_tables_and_plots(tmp_path):
    records = [record_like(framework="keras"), record_like(framework="keras")]
    records[1]["config"]["backend"] = "jax"
    configs = configs_of(records)
    assert sorted(configs["framework"]) == ["keras (jax)", "keras (tensorflow)"]


def test_readme_leaderboard_excerpt_is_copied_from_the_committed_leaderboard():
    readme = (REPO_ROOT / "README.md").read_text()
    excerpt = readme.split("<!-- leaderboard:start -->\n")[1].split("<!-- leaderboard:end -->")[0]
    leaderboard = (REPO_ROOT / "results" / "leaderboard.md").read_text().splitlines()
    rows = [line for line in excerpt.splitlines() if line.startswith("|")]
    assert len(rows) >= 3
    assert [row for row in rows if row not in leaderboard] == [], "copy the rows from results/leaderboard.md"


def test_report_on_a_results_directory_without_results_says_so(tmp_path):
    from tests.test_cli import bench

    (tmp_path / "raw").mkdir()
    made = bench("report", "--results", str(tmp_path))
    assert made.returncode == 0 and "Traceback" not in made.stderr, made.stderr
    assert "No results yet" in (tmp_path / "leaderboard.md").read_text()


def test_a_model_at_chance_is_marked_and_wins_nothing(tmp_path):
    learned = [record_like("r2_vanilla_cnn", seed=s, accuracy=0.40, epoch_s=2.0) for s in (0, 1)]
    at_chance = [record_like("r2_squeezenet1_1", seed=s, accuracy=0.11, epoch_s=0.5) for s in (0, 1)]
    for record in at_chance:
        record["timing"]["train_images_per_s"] = 1e6  # by far the fastest
    records = learned + at_chance
    configs = configs_of(records)
    assert list(configs.set_index("model")["learned"].items()) == [
        ("r2_squeezenet1_1", False),
        ("r2_vanilla_cnn", True),
    ]
    cells = tables.architectures_table(configs).set_index("model")["test acc % (mean ± std, n)"]
    assert cells["r2_squeezenet1_1"].endswith("did not learn") and not cells["r2_vanilla_cnn"].endswith("learn")
    summary = "\n".join(details.summary_lines(configs))
    assert "r2_squeezenet1_1" not in summary and "throughput" in summary
    assert plots.pareto_front(configs[configs["learned"]]) and "r2_squeezenet1_1" not in set(
        configs.loc[plots.pareto_front(configs[configs["learned"]]), "model"]
    )
    assert plots.pareto(configs, tmp_path)


def test_a_repeated_trial_counts_once_for_accuracy_and_says_so():
    first, repeat, other_seed = (
        record_like(seed=0, accuracy=0.5),
        record_like(seed=0, accuracy=0.5),
        record_like(seed=1, accuracy=0.6),
    )
    repeat["_file"] = "repeat.json"  # the same trial id run again: a second file
    (row,) = configs_of([first, repeat, other_seed]).to_dict("records")
    assert row["n"] == 2 and row["repeats"] == 1 and abs(row["acc_mean"] - 0.55) < 1e-9
    assert cells.accuracy_cell(row["acc_mean"], row["acc_std"], row["n"], row["repeats"]).endswith(
        "(n=2, 1 repeat merged)"
    )


def test_results_readme_lists_each_command_once_with_its_keras_backend():
    torch_runs = [record_like(seed=s) for s in (0, 1)]
    jax_run = record_like(framework="keras")
    jax_run["config"]["backend"] = "jax"
    for record in torch_runs + [jax_run]:
        record["provenance"]["command"] = "python -m bench run --seeds 0 1"
    text = markdown.commands_readme(torch_runs + [jax_run])
    assert text.count("  python -m bench run --seeds 0 1\n") == 1
    assert "  KERAS_BACKEND=jax python -m bench run --seeds 0 1\n" in text
    assert "2 result files" in text and "1 result file," in text


def test_committed_results_readme_is_the_generated_one():
    from bench.results import store

    committed = REPO_ROOT / "results"
    assert (committed / "README.md").read_text() == markdown.commands_readme(store.load(committed))


def test_first_screen_answers_the_three_questions_for_each_hardware_from_converged_rows_only():
    from bench.results import store

    committed = REPO_ROOT / "results"
    page = (committed / "leaderboard.md").read_text().splitlines()
    assert len(page) <= 250, "a page that leads with answers, its smoke tables in details.md"
    first_screen = page[: page.index("## Reported vs reproduced")]
    hardware = {
        hardware_label(r) for r in store.load(committed) if r["status"] == "ok" and not r["config"].get("search")
    }
    assert {"NVIDIA H200", "AMD EPYC, 2 threads"} <= {name.split(" #")[0] for name in hardware}
    for name in hardware:
        assert f"**{name}**" in first_screen, name
    for question in ("Which CNN", "Which framework", "Which batch size"):
        answers = [line for line in first_screen if line.startswith(f"- {question}: ")]
        assert len(answers) == len(hardware), question
    assert all(len(line) <= 200 for line in first_screen), "one short line per answer"
    # The H200 ran smoke budgets only: no answer about which CNN; the CPUs rank the parts they converged
    for name in hardware:
        cnn = first_screen[first_screen.index(f"**{name}**") + 2]
        smoke_only = name.startswith("NVIDIA")
        assert cnn.startswith("- Which CNN: no converged answer on this machine yet") == smoke_only, cnn
    curves = [line for line in page if line.startswith("![curves-")]
    assert len(curves) >= 4 and all((committed / line.split("](")[1].rstrip(")")).exists() for line in curves)


def test_a_smoke_only_machine_gets_no_converged_answer():
    records = [record_like("r2_vanilla_cnn", seed=s, accuracy=a) for s, a in ((0, 0.40), (1, 0.42))]
    records += [record_like("r3_deep_cnn", seed=s, accuracy=a) for s, a in ((0, 0.30), (1, 0.31))]
    records += [record_like("r2_vanilla_cnn", framework="keras", seed=s, accuracy=0.41) for s in (0, 1)]
    records += [record_like(batch_size=64, seed=s, accuracy=0.35) for s in (0, 1)]
    configs, trials = configs_of(records), frame.trial_frame(records)
    command = "`python -m bench run --suite papers-cpu --resume`"
    assert answers.which_model(configs, "cpu") == evidence.no_converged_answer("cpu")
    assert command in answers.which_model(configs, "cpu") and "r2_vanilla_cnn" not in answers.which_model(
        configs, "cpu"
    )
    assert answers.which_framework(pairs.framework_pair_values(configs), "cpu") == evidence.no_converged_answer("cpu")
    assert answers.which_batch_size(trials, "cpu").startswith("no designed batch-size experiment on this machine yet")
    assert "--suite frontier-cpu" in answers.which_batch_size(trials, "cpu")


def test_a_tie_within_the_noise_gets_no_bold_winner_and_a_clear_lead_does():
    def answer(spread):
        records = [
            paper_record(accuracy=base + sign * spread, seed=seed, model=model)
            for model, base in (("r2_vanilla_cnn", 0.79), ("r2_tuned_cnn", 0.78))
            for seed, sign in ((0, 1), (1, -1), (2, 0))
        ]
        return answers.which_model(configs_of(records), "cpu")

    tie = answer(0.02)  # 1 pt apart, seeds spread ±2 pt
    assert tie.startswith("r2_vanilla_cnn (torch) 79.0 ± 2.0 % (n=3)") and "**" not in tie
    assert ": within the noise; 2 models at their papers' budgets" in tie
    lead = answer(0.001)
    assert lead.startswith("**r2_vanilla_cnn** (torch)") and ": beyond the noise;" in lead
    one_seed = answers.which_model(
        configs_of([paper_record(accuracy=0.8), paper_record(0.7, model="r2_tuned_cnn")]), "cpu"
    )
    assert "**" not in one_seed and ": one seed;" in one_seed


def test_largest_batch_fits_only_where_a_larger_one_ran_out_of_memory():
    runs = [record_like(batch_size=b) for b in (32, 64)]
    assert set(batch_tables.batch_size_table(frame.trial_frame(runs))["largest"]) == {"", "largest tried"}
    oom = record_like(batch_size=128)
    oom["status"] = "oom"
    table = batch_tables.batch_size_table(frame.trial_frame(runs + [oom]))
    assert table.set_index("batch").loc[64, "largest"] == "fits (a larger batch ran out of memory)"
    assert table.set_index("batch").loc[64, "test images"] == TEMPLATE["dataset"]["test_size"]


def test_learning_rates_of_a_grid_stay_apart():
    records = [record_like(batch_size=32, seed=0), record_like(batch_size=32, seed=1)]
    records[1]["config"]["learning_rate"] = 0.1
    configs = configs_of(records)
    assert sorted(configs["lr"]) == ["0.1", "recipe's"] and list(configs["n"]) == [1, 1]


def test_an_epoch_time_measured_beside_another_trial_is_marked():
    alone, shared = record_like(seed=0), record_like(seed=1)
    shared["machine"] = {"hostname": "node-1", "other_trials_max": 1}
    cells = tables.formatted_columns(configs_of([alone, shared]))[tables.EPOCH_COLUMN]
    assert len(cells) == 1 and answers.SHARED in cells[0]
    assert answers.SHARED not in tables.formatted_columns(configs_of([alone]))[tables.EPOCH_COLUMN][0]


def test_the_same_trial_on_two_machines_is_not_a_repeat():
    here, there = record_like(seed=0, accuracy=0.5), record_like(seed=0, accuracy=0.6)
    there["provenance"]["cpu"] = "another CPU"  # same trial id, other hardware
    configs = configs_of([here, there])
    assert len(configs) == 2 and list(configs["n"]) == [1, 1] and list(configs["repeats"]) == [0, 0]


def test_two_machines_that_share_a_name_never_pool_and_the_newest_answers_first():
    here, there = record_like(seed=0, accuracy=0.5), record_like(seed=1, accuracy=0.6)
    there["provenance"]["memory_total_bytes"] = 2 * here["provenance"]["memory_total_bytes"]
    there["finished_at"] = "2999-01-01T00:00:00Z"
    labels = [hardware_label(record) for record in (here, there)]
    assert labels[0].split(" #")[0] == labels[1].split(" #")[0] and labels[0] != labels[1]
    assert list(configs_of([here, there])["n"]) == [1, 1]
    assert answers.hardware_order(frame.trial_frame([here, there])) == [labels[1], labels[0]]


def test_a_learning_rate_by_batch_size_grid_is_a_table_and_a_heatmap(tmp_path):
    records = []
    for rate in (0.01, 0.1):
        for batch in (32, 64):
            record = record_like(batch_size=batch, accuracy=0.3 + rate + batch / 1000)
            record["config"]["learning_rate"] = rate
            record["_file"] = record["trial_id"] = f"{rate}-{batch}.json"
            records.append(record)
    configs = configs_of(records)
    grid = batch_tables.grid_table(configs)
    assert list(grid["lr"]) == ["0.01", "0.1"]
    assert list(grid["batch 32"]) == ["34.20 (n=1)", "43.20 (n=1)"]
    assert list(grid["batch 64"]) == ["37.40 (n=1)", "46.40 (n=1)"]
    (heatmap,) = plots.grids(batch_tables.grid_groups(configs), tmp_path)
    text = details_text(records, [heatmap.name])
    assert "### Learning rate x batch size grids" in text and f"(plots/{heatmap.name})" in text
    assert batch_tables.grid_table(configs_of(records[:1])).empty  # one point is no grid


def search_record(number, accuracy, role="candidate", status="ok", test=None, **parameters):
    """A search's trial: candidates carry validation accuracy only; the final trial a test score."""
    values = {
        "filters1": 32,
        "filters2": 64,
        "kernel": 3,
        "dense": 256,
        "dropout": 0.5,
        "learning_rate": 1e-3,
        "batch_size": 64,
        **parameters,
    }
    record = record_like(model="r2_tuned_cnn", recipe="r2", batch_size=values["batch_size"])
    record["config"]["search"] = {
        "space": "r2",
        "study": "s-torch",
        "candidate": number,
        "role": role,
        "parameters": values,
    }
    record["status"] = status
    record["epochs"][-1]["val_accuracy"] = accuracy
    record["test"] = {**record["test"], "accuracy": test} if test is not None else None
    record["_file"] = f"{role}-{number}.json"
    record["trial_id"] = hashlib.sha256(record["_file"].encode()).hexdigest()[:16]  # as the schema has it
    return record


def test_searches_pick_on_validation_and_show_the_final_test_score(tmp_path):
    candidates = [
        search_record(0, 0.40, dense=128),
        search_record(1, 0.55, dense=512),
        search_record(2, 0.30, status="pruned"),
        search_record(3, 0.45, dropout=0.3),
    ]
    final = search_record(1, 0.54, role="final", test=0.52, dense=512)
    records = [*candidates, final, record_like()]
    (row,) = tables.derived(records)[1]["searches"].to_dict("records")
    assert row["candidates"] == "4 (3 completed, 1 pruned, 0 failed)"
    assert row["best candidate"].startswith("#1: ") and "dense 512" in row["best candidate"]
    assert row["val acc % (best)"] == "55.0" and row["test acc % (final)"] == "52.0 (n=1)"
    assert list(tables.derived(records)[1]["trials"]["model"]) == ["r2_vanilla_cnn"]  # searches stay apart
    (plot,) = search_report.draw_plots(records, tmp_path)
    assert search_report.importances(candidates)  # three completed candidates: importances drawn
    text = details_text(records, [plot.name])
    assert "## Searches" in text and f"(plots/{plot.name})" in text


def test_committed_details_show_the_searches_and_the_grid_heatmaps():
    leaderboard = (REPO_ROOT / "results" / "details.md").read_text()
    searches = leaderboard.split("## Searches")[1].split("\n## ")[0]
    assert "r2_tuned_cnn" in searches and "### Learning rate x batch size grids" in searches
    images = [line.split("](")[1].rstrip(")") for line in searches.splitlines() if line.startswith("![")]
    assert sum("/grid-" in image for image in images) >= 2 and sum("/search-" in image for image in images) >= 2
    assert all((REPO_ROOT / "results" / image).exists() for image in images)


def test_a_designed_batch_experiment_answers_and_a_smoke_sweep_does_not():
    sweep = [
        paper_record(accuracy=a + 0.005 * seed, seed=seed, batch_size=b, epoch_s=e)
        for b, a, e in ((32, 0.80, 4.0), (64, 0.79, 2.0), (128, 0.60, 1.0))
        for seed in (0, 1)
    ]
    for record in sweep:
        record["timing"]["train_images_per_s"] = 45000 / record["timing"]["epoch_median_s"]
    answer = answers.which_batch_size(frame.trial_frame(sweep), "cpu")
    assert answer.startswith("r2_vanilla_cnn (torch), 50 ep, batch 32 → 128: 4.0x images/s, accuracy 80.2 → 60.2 %")
    assert "(best 32, n=2), falls beyond the noise from 128; lr rule `none`" in answer
    for record in sweep:
        record["config"]["learning_rate"] = 0.1
    assert "lr 0.1 throughout" in answers.which_batch_size(frame.trial_frame(sweep), "cpu")
    smoke = [record_like(batch_size=b, seed=s) for b in (32, 64) for s in (0, 1)]
    assert answers.which_batch_size(frame.trial_frame(smoke), "cpu").startswith("no designed batch-size experiment")


@pytest.mark.skipif(bool(missing_framework("torch")), reason="YARDSTICK SKIPPED: no torch")
def test_the_yardstick_runs_the_airbench_package_as_it_runs_itself(tmp_path, framework_processes):
    result = (
        framework_processes["torch"]
        .submit(jobs.yardstick_with_a_stand_in_airbench, "torch", str(tmp_path / "results"), str(tmp_path / "work"))
        .result()
    )
    loaders = [call for call in result["calls"] if call[0] == "loader"]
    # airbench's files: all 50,000 training images, uint8 NHWC, int64 labels; its batch, augmentation and flips
    assert (
        "loader",
        True,
        1024,
        {"flip": True, "translate": 2},
        True,
        (50000, 32, 32, 3),
        "torch.uint8",
        "torch.int64",
    ) in loaders
    assert any(call[1] is False and call[5] == (200, 32, 32, 3) for call in loaders)
    trains = [call for call in result["calls"] if call[0] == "train94"]
    assert trains[0][1] == -1 and [call[3] for call in trains[1:]] == [3, 4]  # a warm-up, then one run per seed
    assert [r["seed"] for r in result["loaded"]] == [3, 4] and result["loaded"] == result["records"]
    record = result["loaded"][0]
    assert record["test_accuracy"] == 0.941 and record["test_accuracy_without_tta"] == 0.935
    assert record["device_name"] == "Stand-in GPU" and "50,000 training images" in record["protocol"]
    assert record["train_seconds"] >= 0 and record["schema_version"] == store.SCHEMA_VERSION


def _yardstick_trial(seed: int, accuracy: float, reached_epoch, epoch_s: float) -> dict:
    return {
        "config": {
            "model": "airbench94",
            "framework": "torch",
            "device": "cuda",
            "threads": 1,
            "amp": "bf16",
            "compile": "default",
        },
        "status": "ok",
        "settings": {"device_name": "Stand-in GPU"},
        "test": {"accuracy": accuracy},
        "timing": {"epoch_median_s": epoch_s},
        "time_to_accuracy": {
            "target": 0.94,
            "epoch": reached_epoch,
            "train_seconds": None if reached_epoch is None else reached_epoch * epoch_s + 5,
        },
    }


def test_the_yardstick_table_sets_the_harness_beside_the_package_on_the_same_gpu():
    package = [
        {
            "device_name": "Stand-in GPU",
            "airbench_version": "0.1.8",
            "test_accuracy": accuracy,
            "train_seconds": seconds,
        }
        for accuracy, seconds in ((0.940, 3.0), (0.942, 4.0), (0.938, 5.0))
    ]
    trials = [
        _yardstick_trial(0, 0.941, 8, 0.5),
        _yardstick_trial(1, 0.939, None, 0.5),
        _yardstick_trial(2, 0.943, 6, 0.5),
    ]
    table = tables.yardstick_table(package, trials)
    package_row, harness_row = table.to_dict("records")
    assert package_row["test accuracy %"] == "94.00 ± 0.20 (n=3)" and package_row["time to 94 % s"].startswith("4.00")
    assert harness_row["test accuracy %"] == "94.10 ± 0.20 (n=3)"
    assert harness_row["time to 94 % s"] == "8.50 (2/3 reached 94 % validation)"  # median of 9 and 8 s
    assert harness_row["steady time to 94 % s"] == "3.50" and harness_row["vs package"] == "0.88x"


def loaded(record: dict) -> dict:
    """`record` as if other processes had taken a core during each of its epochs."""
    for epoch in record["epochs"]:
        epoch["foreign_cpu_cores"] = 1.0
    return record


def test_foreign_load_marks_an_epoch_time_and_leaves_it_out_of_the_answers_ratio():
    quiet = [paper_record(framework=fw, epoch_s=t) for fw, t in (("torch", 2.0), ("keras", 3.0))]
    busy = [
        loaded(paper_record(model="r2_tuned_cnn", framework=fw, epoch_s=t))
        for fw, t in (("torch", 2.0), ("keras", 20.0))
    ]
    configs = configs_of(quiet + busy)
    assert answers.SHARED in tables.formatted_columns(configs_of(busy[:1]))[tables.EPOCH_COLUMN][0]
    frameworks = pairs.framework_pairs(configs).set_index("model")["epoch time keras/torch"]
    assert frameworks["r2_tuned_cnn"] == "10.00" + answers.SHARED and frameworks["r2_vanilla_cnn"] == "1.50"
    answer = answers.which_framework(pairs.framework_pair_values(configs), "cpu")
    assert answer.startswith("keras (tensorflow) / torch, 2 converged pairs: epoch time 1.50x (1 of 2 quiet);")
    (ratio,) = [line for line in details.summary_lines(configs) if "epoch-time ratio" in line]
    assert (
        ratio.startswith("- keras (tensorflow) / torch epoch-time ratio on ")
        and "median 1.50 (range 1.50-1.50, n=1 quiet" in ratio
    )


def test_framework_ratios_pool_no_backends_or_devices_and_leave_out_jax_without_jit():
    records = [paper_record(framework="torch", epoch_s=2.0)]
    for backend, seconds in (("tensorflow", 3.0), ("torch", 5.0), ("jax", 1.0)):
        record = paper_record(framework="keras", epoch_s=seconds)
        record["config"]["backend"] = backend
        records.append(record)
    gpu = [paper_record(framework=fw, epoch_s=t) for fw, t in (("torch", 1.0), ("keras", 0.5))]
    for record in gpu:
        record["config"]["device"] = "cuda"
        record["settings"]["device_name"] = "NVIDIA H100"
        record["timing"]["first_epoch_s"] = 10.0 if record["config"]["framework"] == "torch" else 40.0
    text = "\n".join(
        answers.answer_lines(
            configs_of(records + gpu),
            frame.trial_frame(records + gpu),
            pairs.framework_pair_values(configs_of(records + gpu)),
        )
    )
    framework_answers, machine = {}, None
    for line in text.splitlines():
        machine = line.strip("*").split(" #")[0] if line.startswith("**") else machine
        if line.startswith("- Which framework: "):
            framework_answers[machine] = line
    cuda, cpu = framework_answers.pop("NVIDIA H100"), framework_answers.popitem()[1]
    assert not framework_answers, "one answer per machine: the H100's and the CPU's never pool"
    assert cuda == (
        "- Which framework: keras (tensorflow) / torch, 1 converged pairs: epoch time 0.50x (1 of 1 quiet), "
        "first epoch 4.00x; accuracy 1 not shown (±1 pt) ([parity](#framework-parity-at-convergence))"
    )
    # one backend per line, each with its own ratio: tensorflow's 1.50x, never a median with torch's or jax's
    assert "keras (tensorflow) / torch, 1 converged pairs: epoch time 1.50x (1 of 1 quiet);" in cpu, cpu
    assert evidence.untypical_timing("keras (jax)", "fast", "cpu") == "JAX run without jit"
    assert evidence.untypical_timing("keras (jax)", "fast+compile=jit", "cpu") is None


def test_the_equivalence_test_gives_the_known_answer_on_synthetic_seeds():
    rng = np.random.default_rng(0)

    def verdict(true_difference, noise, n):
        keras = 0.80 + true_difference + rng.normal(0, noise, n)
        torch = 0.80 + rng.normal(0, noise, n)
        return evidence.equivalence(keras.mean() - torch.mean(), keras.std(ddof=1), n, torch.std(ddof=1), n)[0]

    assert [verdict(0.0, 0.002, 5) for _ in range(20)] == [evidence.EQUIVALENT] * 20
    assert [verdict(0.03, 0.002, 5) for _ in range(20)] == [evidence.DIFFERENT] * 20
    assert verdict(0.0, 0.02, 3) == evidence.NOT_SHOWN  # seeds spread ±2 pt: the interval is wider than ±1 pt
    assert evidence.equivalence(0.0, 0.0, 1, 0.001, 3) == (evidence.NOT_SHOWN, "n too small")
    # Welch by hand: difference 0.5 pt, both stds 0.1 pt, n 3 a side: se 0.0816 pt, 4 dof, t(0.95) 2.132
    assert evidence.equivalence(0.005, 0.001, 3, 0.001, 3)[0] == evidence.EQUIVALENT  # 0.5 + 0.17 < 1
    assert evidence.equivalence(0.009, 0.001, 3, 0.001, 3)[0] == evidence.DIFFERENT  # 0.9 + 0.17 > 1, 0 excluded
    records = [
        paper_record(framework=fw, accuracy=a + d, seed=s)
        for fw, a in (("torch", 0.79), ("keras", 0.791))
        for s, d in ((0, 0.0005), (1, -0.0005), (2, 0.0))
    ]
    (parity,) = tables.derived(records)[1]["parity_at_convergence"].to_dict("records")
    assert parity["equivalence (±1 pt)"] == "equivalent (within ±1 pt)"


def paper_record(
    framework="torch", accuracy=0.70, epochs=50, seed=0, model="r2_vanilla_cnn", batch_size=64, epoch_s=2.0
) -> dict:
    """`model` under r2's recipe on the whole training split, `epochs` of the paper's 50."""
    record = record_like(model, framework, "r2", seed, accuracy, epoch_s, batch_size)
    record["recipe"]["paper"] = "r2"
    record["config"]["epochs"] = epochs
    record["budget"].update(epochs=epochs, paper_epochs=50, full_training_set=True)
    record["dataset"]["train_size"] = 45000
    record["epochs"] = [dict(record["epochs"][-1], epoch=number) for number in range(1, epochs + 1)]
    return record


def test_a_paper_part_at_its_own_budget_gets_a_verdict_and_a_parity_row():
    records = [
        *[paper_record("torch", a, seed=s) for s, a in ((0, 0.700), (1, 0.701), (2, 0.699))],
        *[paper_record("keras", a, seed=s) for s, a in ((0, 0.660), (1, 0.661), (2, 0.659))],
        paper_record("torch", 0.40, epochs=3),  # a short budget of the same part
    ]
    configs, named = tables.derived(records)
    reported = named["reported_vs_reproduced"]
    # The paper: 71.0 %. keras 66.0 ± 0.25, all of its interval beyond 3 points; torch 70.0 ± 0.25, all within
    assert list(reported["verdict"]) == ["not reproduced", "reproduced", "budget short"]
    assert list(reported["reproduced test acc % (95% CI)"])[:2] == ["66.00 ± 0.25 (n=3)", "70.00 ± 0.25 (n=3)"]
    one_seed = tables.derived(records[:1])[1]["reported_vs_reproduced"]
    assert list(one_seed["verdict"]) == ["reproduced (provisional, n=1)"]
    wide = [paper_record("torch", a, seed=s) for s, a in ((0, 0.69), (1, 0.73))]  # 71 ± 25 pt: crosses the line
    assert list(tables.derived(wide)[1]["reported_vs_reproduced"]["verdict"]) == ["undecided (interval crosses 3 pt)"]
    (parity,) = named["parity_at_convergence"].to_dict("records")
    assert parity["model"] == "r2_vanilla_cnn" and parity["epochs"] == 50 and parity["n keras/torch"] == "3/3"
    assert parity["test acc difference (pt, keras - torch)"] == "-4.00" and parity["95% CI (pt)"].startswith("± ")
    assert parity["equivalence (±1 pt)"] == "different (its 95 % interval excludes 0)"
    assert "## Framework parity at convergence" in leaderboard_text(records)


def test_a_missed_part_gets_the_reason_its_probe_found():
    probe = record_like(framework="torch", recipe="r2_unaugmented", accuracy=0.72, batch_size=64)
    probe["config"]["epochs"], probe["dataset"]["train_size"], probe["recipe"]["paper"] = 50, 45000, None
    far_probe = copy.deepcopy(probe)
    far_probe["dataset"]["train_size"] = 2000  # another budget: no evidence about this part
    records = [paper_record("torch", 0.79), paper_record("keras", 0.705), probe, far_probe]
    reasons = list(tables.derived(records)[1]["reported_vs_reproduced"]["reason found (probe)"])
    assert len(reasons) == 2 and len(set(reasons)) == 1  # it speaks for the part, whichever framework ran it
    assert reasons[0] == (
        "the same network trained without flip and crop (probe recipe r2_unaugmented) reaches 72.00 % "
        "(n=1, torch), +1.0 pt from the paper's figure: within 3 points, the likely reason"
    )
    text = leaderboard_text(records)
    assert "### at the paper's own budget" in text and "the likely reason" in text


def test_the_answers_rank_the_models_trained_at_their_papers_budgets_with_their_training_time():
    deep = paper_record("torch", 0.83, batch_size=128)
    deep["config"].update(model="r3_deep_cnn", recipe="r3", epochs=15)
    deep["budget"].update(epochs=15, paper_epochs=15)
    deep["timing"]["epoch_median_s"], deep["epochs"] = 120.0, deep["epochs"][:15]
    short = paper_record("torch", 0.90, epochs=3)  # a short budget says nothing here
    records = [paper_record("torch", 0.79, seed=0), paper_record("torch", 0.78, seed=1), deep, short]
    assert answers.which_model(configs_of(records), "cpu") == (
        "r3_deep_cnn (torch) 83.0 % (n=1), 30 min; next r2_vanilla_cnn 78.5 %, 2 min: one seed; 2 models at "
        "their papers' budgets ([reported vs reproduced](#reported-vs-reproduced))"
    )
    one_model = answers.which_model(configs_of([deep, short]), "cpu")  # one model: nothing to rank
    assert one_model == evidence.no_converged_answer("cpu")
    assert "- Which CNN: r3_deep_cnn (torch) 83.0 %" in leaderboard_text(records)


def served_record(framework, latency_ms, images_per_s, accuracy, cores=0.0):
    record = record_like(framework=framework, accuracy=accuracy)
    record["inference"] = {
        "path": f"{framework} serving path",
        "latency_median_ms": latency_ms,
        "latency_p99_ms": 2 * latency_ms,
        "latency_calls": 100,
        "throughput_batch": 256,
        "throughput_images_per_s": images_per_s,
        "batches_out_of_memory": [],
        "foreign_cpu_cores": cores,
    }
    return record


def test_inference_names_the_fastest_framework_at_batch_one_and_the_highest_throughput():
    records = [
        served_record("torch", 1.0, 1000.0, 0.60),
        served_record("keras", 2.0, 3000.0, 0.62, cores=0.5),  # timed under load: marked
        record_like(framework="torch", seed=1),  # recorded before inference was measured: left out
    ]
    (row,) = tables.derived(records)[1]["inference"].to_dict("records")
    assert row["fastest at batch 1"] == "torch: 1.00 ms (p99 2.00), test acc 60.0 % (n=1)"
    assert row["others at batch 1"] == "keras (tensorflow): 2.00 ms (p99 4.00)†, test acc 62.0 % (n=1)"
    assert row["most images/s"] == "keras (tensorflow): 3,000 at batch 256†, test acc 62.0 %"
    assert "## Inference at every budget" in details_text(records) and "## Inference" not in leaderboard_text(records)


def test_the_same_images_read_from_two_layouts_count_as_one_dataset():
    archive, folder, older, other = (record_like(seed=s) for s in range(4))
    for record, label, file_hash, images in (
        (archive, "CIFAR-10 (JPEG q75 copy)", "a" * 64, "1" * 64),
        (folder, "CIFAR-10 (image folder cifar10-jpeg, sha256 bbbbbbbbbbbb, 32x32)", "b" * 64, "1" * 64),
        (older, "CIFAR-10 (JPEG q75 copy)", "a" * 64, None),  # before images were hashed: its file names it
        (other, "CIFAR-10 (image folder mine, sha256 cccccccccccc, 32x32)", "c" * 64, "2" * 64),
    ):
        record["dataset"].update(label=label, sha256=file_hash, images_sha256=images)
    trials = frame.trial_frame([archive, folder, older, other])
    one = "CIFAR-10 (JPEG q75 copy) = CIFAR-10 (image folder cifar10-jpeg, sha256 bbbbbbbbbbbb, 32x32)"
    assert list(trials["dataset"]) == [one, one, one, "CIFAR-10 (image folder mine, sha256 cccccccccccc, 32x32)"]
    (merged,) = configs_of([archive, folder, older]).to_dict("records")  # one configuration, three seeds
    assert merged["n"] == 3 and merged["dataset"] == one


def test_the_same_trial_on_two_machines_gives_the_bound_beside_the_answers():
    here = record_like(accuracy=0.500)
    there = copy.deepcopy(here)
    there["provenance"]["cpu"] = "Another CPU"  # another machine: its label and fingerprint differ
    there["test"]["accuracy"], there["_file"] = 0.507, "there.json"
    alone = record_like(seed=1, accuracy=0.6)  # one machine only: no twin
    (row,) = tables.derived([here, there, alone])[1]["twins"].to_dict("records")
    assert (row["test acc %"], row["other %"]) in (("50.00", "50.70"), ("50.70", "50.00"))
    assert (
        row["moved (pt)"] in ("+0.70", "-0.70")
        and row["budget"] == "`common` x 3 ep, batch 128, the recipe's lr, 2,000 img, seed 0"
    )
    line = (
        "The same trial on two machines moved test accuracy by 0.70 pt (median) and at most 0.70 pt over 1 twins, "
        "0 of them at converged budgets"
    )
    assert line in leaderboard_text([here, there, alone]) and "## Same trial on two machines" in details_text(
        [here, there, alone]
    )
    assert tables.derived([here, alone])[1]["twins"].empty


def test_a_results_folder_of_failed_trials_only_reports_them():
    failed = record_like()
    failed.update(status="crashed", error="killed by signal 9", test=None)
    assert "killed by signal 9" in details_text([failed]).split("## Failed trials")[1]
    assert "## Answers" not in leaderboard_text([failed])  # nothing measured: no answer

"""`python -m bench report`: RESULTS/leaderboard.md (bench.report.markdown), details.md (bench.report.details),
tables as CSV and JSON, plots and RESULTS/README.md, all derived from the raw records."""

from __future__ import annotations

from pathlib import Path

from bench.report import plots, search_report
from bench.report.batch_tables import grid_groups
from bench.report.details import details_markdown
from bench.report.frame import configurations, paper_records, trial_frame
from bench.report.here import here_lines
from bench.report.markdown import NO_RESULTS, commands_readme, leaderboard_markdown
from bench.report.tables import architecture_configs, derived
from bench.results import store
from bench.run import yardstick


def write_leaderboard(results_dir, reference_dir=None, budget_s: float | None = None) -> Path:
    """Write leaderboard.md, tables/*.csv and *.json, and plots/*.png, all from raw/ alone; with `reference_dir`
    (converged results measured elsewhere), first the answers for this run's machine (bench.report.here), and with
    `budget_s` the most accurate part that trains within it here."""
    root = Path(results_dir)
    all_records = store.load(results_dir)
    package_runs = yardstick.load(results_dir)
    records = [r for r in all_records if not search_report.is_search(r)]
    path = root / "leaderboard.md"
    if not all_records:
        path.write_text(NO_RESULTS)
        return path
    configs, named = derived(all_records, package_runs)
    (root / "tables").mkdir(exist_ok=True)
    for name, table in named.items():
        table.to_csv(root / "tables" / f"{name}.csv", index=False)
        table.to_json(root / "tables" / f"{name}.json", orient="records", indent=1)
    plot_dir = root / "plots"
    for old in plot_dir.glob("*.png"):
        old.unlink()  # derived files: a plot whose results are gone must go too
    trials = named["trials"]
    drawn = search_report.draw_plots(all_records, plot_dir)
    if records:
        drawn += (
            plots.learning_curves(records, plot_dir)
            + plots.confusion_matrices(paper_records(records), plot_dir)
            + plots.pareto(architecture_configs(configs), plot_dir)
            + plots.batch_sizes(trials, plot_dir)
            + plots.grids(grid_groups(configs), plot_dir)
        )
    plot_files = sorted(p.name for p in drawn)
    here = _here_lines(trials, reference_dir, budget_s) if reference_dir and not trials.empty else []
    path.write_text(leaderboard_markdown(configs, named, plot_files, here))
    (root / "details.md").write_text(details_markdown(configs, named, plot_files))
    (root / "README.md").write_text(commands_readme(all_records))
    return path


def _here_lines(trials, reference_dir, budget_s: float | None) -> list[str]:
    """The section 'Your machine' from the reference's converged rows and this run's timings; a record in both
    folders (a copy of the reference reported) is the run's, never its own reference."""
    own = set(trials["file"])
    reference = [r for r in store.load(reference_dir) if not search_report.is_search(r) and r["_file"] not in own]
    if not reference:
        return []
    reference_trials = trial_frame(reference)
    return here_lines(trials, reference_trials, configurations(reference_trials), budget_s)

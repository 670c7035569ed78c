"""The leaderboard's Searches section: every study of `bench tune`, rebuilt from the raw results alone.

Candidates and final trials are recognised by their config's `search` block; Optuna's storage is not
read, so the section regenerates from raw/ on any machine. Per study: the candidates (completed,
pruned, failed), the best one's parameters and validation accuracy, and the test accuracy of its
final trial(s). One plot per study: the optimisation history, and the parameter importances (Optuna's
fANOVA with a fixed seed) where at least three candidates completed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.labels import framework_label, hardware_label
from bench.report.plots import grid_plot_name, save, slug
from bench.spec import registry
from bench.spec.searches import SEARCHES, objective

MIN_COMPLETED_FOR_IMPORTANCES = 3


def is_search(record: dict) -> bool:
    return bool(record["config"].get("search"))


def studies(records: list[dict]) -> dict[tuple[str, str], dict[str, list[dict]]]:
    """(study, hardware) -> {"candidates": [...] by number, "finals": [...]}."""
    found: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for record in records:
        if is_search(record):
            search = record["config"]["search"]
            study = found.setdefault((search["study"], hardware_label(record)), {"candidates": [], "finals": []})
            study["candidates" if search["role"] == "candidate" else "finals"].append(record)
    for study in found.values():
        study["candidates"].sort(key=lambda r: r["config"]["search"]["candidate"])
    return dict(sorted(found.items()))


def _parameters(values: dict) -> str:
    return ", ".join(f"{key} {value:g}" for key, value in values.items())


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def searches_table(records: list[dict]) -> pd.DataFrame:
    rows = []
    for (study, hardware), found in studies(records).items():
        candidates, finals = found["candidates"], found["finals"]
        statuses = [r["status"] for r in candidates]
        completed = [r for r in candidates if r["status"] == "ok"]
        best = max(completed, key=lambda r: (objective(r), -r["config"]["search"]["candidate"]), default=None)
        # a final trial of an earlier, smaller study may have scored another candidate: only the best's count
        scored = [
            r
            for r in finals
            if r["status"] == "ok"
            and best is not None
            and r["config"]["search"]["candidate"] == best["config"]["search"]["candidate"]
        ]
        first = (candidates or finals)[0]
        config = (best or first)["config"]
        space = SEARCHES.get(config["model"].partition(":")[0])
        rows.append(
            {
                "model": config["model"].partition(":")[0],
                "framework": framework_label(first),
                "hardware": hardware,
                "dataset": ((scored or completed or [{}])[0].get("dataset") or {}).get("label", config["dataset"]),
                "budget": f"{config['epochs']} epochs, {config.get('train_subset') or 'all'} train images, "
                f"{config['val_size']} validation",
                "candidates": f"{len(candidates)} ({statuses.count('ok')} completed, "
                f"{statuses.count('pruned')} pruned, "
                f"{len(statuses) - statuses.count('ok') - statuses.count('pruned')} failed)",
                "best candidate": "-"
                if best is None
                else f"#{best['config']['search']['candidate']}: {_parameters(best['config']['search']['parameters'])}",
                "val acc % (best)": _percent(objective(best) if best else None),
                "test acc % (final)": (
                    " / ".join(_percent(r["test"]["accuracy"]) for r in scored) + f" (n={len(scored)})"
                    if scored
                    else "not scored yet"
                ),
                "reported (test)": (
                    f"{100 * space_reported(space):.1f} % after the report's search"
                    if space and space_reported(space)
                    else "-"
                ),
                "study": study,
            }
        )
    return pd.DataFrame(rows)


def space_reported(space) -> float | None:
    return registry.spec(space.model).published.get("test_accuracy")


def _rebuilt_study(candidates: list[dict]):
    """An in-memory Optuna study holding the recorded candidates (for the importance evaluator)."""
    import optuna

    from bench.run.tune import distributions

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SEARCHES[candidates[0]["config"]["model"].partition(":")[0]]
    study = optuna.create_study(direction="maximize")
    spaces = distributions(space)
    for record in candidates:
        if record["status"] == "ok":
            study.add_trial(
                optuna.trial.create_trial(
                    params=record["config"]["search"]["parameters"], distributions=spaces, value=objective(record)
                )
            )
    return study


def importances(candidates: list[dict]) -> dict[str, float]:
    """fANOVA importances of the parameters (seed 0), or {} with fewer than three completed candidates."""
    import optuna

    if sum(r["status"] == "ok" for r in candidates) < MIN_COMPLETED_FOR_IMPORTANCES:
        return {}
    study = _rebuilt_study(candidates)
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def plot_name(study: str, hardware: str) -> str:
    return f"search-{slug(study)}-{slug(hardware)}.png"


def draw_plots(records: list[dict], directory: Path) -> list[Path]:
    """Per study: validation accuracy of each candidate in order with the best so far, and importances."""
    import matplotlib.pyplot as plt

    paths = []
    for (study, hardware), found in studies(records).items():
        candidates = found["candidates"]
        if not candidates:
            continue
        weights = importances(candidates)
        figure, axes = plt.subplots(1, 2 if weights else 1, figsize=(11 if weights else 6, 4), squeeze=False)
        history = axes[0][0]
        best, best_line = None, []
        for record in candidates:
            number = record["config"]["search"]["candidate"]
            value = objective(record)
            last = (record.get("epochs") or [{}])[-1].get("val_accuracy")
            if value is not None:
                history.plot(number, 100 * value, "o", color="tab:blue")
                best = value if best is None else max(best, value)
            elif last is not None:  # pruned: where it stood when stopped
                history.plot(number, 100 * last, "x", color="tab:red")
            best_line.append(None if best is None else 100 * best)
        history.step(
            [r["config"]["search"]["candidate"] for r in candidates],
            [float("nan") if v is None else v for v in best_line],
            where="post",
            color="tab:green",
            label="best so far",
        )
        history.set(
            xlabel="candidate (o completed, x pruned)", ylabel="validation accuracy %", title=f"{study}\n{hardware}"
        )
        history.title.set_fontsize(8)
        history.legend(fontsize=8)
        if weights:
            names = list(weights)[::-1]
            axes[0][1].barh(names, [weights[name] for name in names])
            axes[0][1].set(xlabel="importance (fANOVA, seed 0)", title="parameter importances")
        paths.append(save(figure, directory / plot_name(study, hardware)))
    return paths


def space_lines() -> list[str]:
    """The searched spaces, as the Searches section states them."""
    lines = []
    for space in SEARCHES.values():
        lines.append(
            f"- `{space.model}` (report {space.name}, recipe `{space.recipe}`): {space.describe()}. "
            f"{space.note[0].upper()}{space.note[1:]}."
        )
    return lines


def searches_markdown(named: dict[str, pd.DataFrame], plot_files: list[str]) -> list[str]:
    """The Searches section: Optuna studies of `bench tune`, then learning-rate x batch-size grids."""
    studies, grid = named["searches"], named["grid"]
    if studies.empty and grid.empty:
        return []
    return ["## Searches", "", *_studies_markdown(studies, plot_files), *_grids_markdown(grid, plot_files)]


def _studies_markdown(studies: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The Optuna studies: how they search, the spaces, one row per study, and their plots."""
    if studies.empty:
        return []
    drawn = {plot_name(study, hardware) for study, hardware in zip(studies["study"], studies["hardware"])}
    return [
        "Optuna studies of `python -m bench tune`, one per framework: each candidate is a trial of its own, "
        "chosen by TPE (fixed seed) and stopped early by a median pruner on validation accuracy; the best "
        "candidate by validation accuracy is trained again in a final trial, the only one that sees the "
        "test set. Searched spaces:",
        "",
        *space_lines(),
        "",
        studies.drop(columns=["study"]).to_markdown(index=False),
        "",
        *[f"![{name.removesuffix('.png')}](plots/{name})" for name in plot_files if name in drawn],
        "",
    ]


GRID_KEYS = ["dataset", "hardware", "model", "framework", "variant", "recipe", "epochs", "train images", "test images"]


def _grids_markdown(grid: pd.DataFrame, plot_files: list[str]) -> list[str]:
    """The learning-rate x batch-size grids, one block (and heatmap) per model, framework and budget."""
    if grid.empty:
        return []
    lines = [
        "### Learning rate x batch size grids",
        "",
        "Test accuracy per learning rate (rows) and batch size (columns), as report r4's grid search; "
        "one block per model, framework and budget.",
        "",
    ]
    for values, block in grid.groupby(GRID_KEYS, sort=False):
        heading = (
            ", ".join(str(v) for v in values[:5]) + f", recipe {values[5]}, {values[6]} epochs on "
            f"{int(values[7]):,} images, {int(values[8]):,} test images"
        )
        table = block.drop(columns=GRID_KEYS).dropna(axis=1, how="all").loc[:, lambda b: (b != "-").any()]
        lines += [f"#### {heading}", "", table.to_markdown(index=False), ""]
        name = grid_plot_name(*values)
        if name in plot_files:
            lines += [f"![{name.removesuffix('.png')}](plots/{name})", ""]
    return lines

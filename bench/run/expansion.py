"""A sweep's trials: suite entries x frameworks x batch sizes x learning rates x seeds, with those that cannot
run here skipped, each with its reason."""

from __future__ import annotations

from pathlib import Path

from bench.data import pretrained
from bench.frameworks import backend_for, missing_framework, unsupported
from bench.paths import portable
from bench.spec.config import TrialConfig
from bench.spec.recipes import get_recipe


def expand(
    entries, frameworks, device, batch_sizes, seeds, learning_rates=None, weights_dir=None, **common
) -> tuple[list[TrialConfig], list[str]]:
    """Suite entries x frameworks x batch sizes x learning rates x seeds (a grid, as r4's search); a batch
    size, learning rate or budget left unset is the recipe's. Trials of frameworks missing here, or of
    entries whose weights file is not in `weights_dir`, are skipped with a reason."""
    trials, skipped = [], []
    grid = [(batch, rate) for batch in (batch_sizes or [None]) for rate in (learning_rates or [None])]
    for framework in frameworks:
        reason = missing_framework(framework, device)
        for entry in entries:
            recipe = get_recipe(entry.recipe)
            weights, missing_weights = common.get("weights"), None
            if entry.weights and not weights:
                weights = str(Path(weights_dir or pretrained.DEFAULT_WEIGHTS_DIR) / entry.weights)
                if not Path(weights).is_file():
                    missing_weights = (
                        f"needs weights file {entry.weights} in {portable(Path(weights).parent)} "
                        f"(--weights-dir; see docs/models.md, Transfer learning)"
                    )
            for (batch, learning_rate), seed in ((point, seed) for point in grid for seed in seeds):
                batch_size = batch or entry.batch_size or recipe.batch_size
                config = TrialConfig(
                    model=entry.model,
                    framework=framework,
                    device=device,
                    batch_size=batch_size,
                    seed=seed,
                    epochs=entry.epochs or recipe.epochs,
                    recipe=entry.recipe,
                    dataset=entry.dataset,
                    train_subset=entry.train_subset,
                    test_subset=entry.test_subset,
                    val_size=entry.val_size,
                    learning_rate=learning_rate,
                    backend=backend_for(framework, device),
                    note=entry.note,
                    target_accuracy=entry.target_accuracy,
                    execution=entry.execution,
                    **{**common, "weights": weights},
                )
                why = reason or missing_weights or unsupported(framework, config.execution)
                if why:
                    skipped.append(f"skipped {config.label()}: {why}")
                else:
                    trials.append(config)
    return trials, skipped

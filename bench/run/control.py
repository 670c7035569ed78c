"""Epoch-level training decisions shared by both frameworks: the learning rate of every step
(schedule x ReduceLROnPlateau x fine-tuning's rate after the frozen phase), and early stopping on a
validation metric.

Both are decided here, from numbers the harness computed itself, so a torch and a keras trial of
the same recipe change their learning rate and stop at the same rules (the frameworks' own
callbacks differ in details such as relative vs absolute improvement thresholds).
"""

from __future__ import annotations

import numpy as np

from bench.spec.recipes import Recipe, learning_rate_at


class TrainingControl:
    """The learning rate of every step and early stopping, from the recipe and the validation figures so far."""

    STATE = ("plateau_scale", "_plateau_best", "_plateau_wait", "_stop_best", "_stop_wait", "best_epoch")

    def __init__(self, recipe: Recipe, steps_per_epoch: int):
        self.recipe = recipe
        self.steps_per_epoch = steps_per_epoch
        self.plateau_scale = 1.0
        self._plateau_best, self._plateau_wait = float("inf"), 0
        self._stop_best, self._stop_wait = None, 0
        self.best_epoch: int | None = None

    def state(self) -> dict:
        """What the epochs so far decided (for a trial's checkpoint): plateau and early stopping's counters."""
        return {name: getattr(self, name) for name in self.STATE}

    def load_state(self, state: dict) -> None:
        """Put back a `state()`."""
        for name in self.STATE:
            setattr(self, name, state[name])

    def learning_rates(self, epoch_index: int) -> np.ndarray:
        """The learning rate of each optimizer step of epoch `epoch_index` (from 0)."""
        first = epoch_index * self.steps_per_epoch
        unfrozen = self.recipe.freeze_epochs and epoch_index >= self.recipe.freeze_epochs
        return np.array(
            [
                learning_rate_at(self.recipe, first + i, epoch_index, self.plateau_scale, self.steps_per_epoch)
                for i in range(self.steps_per_epoch)
            ],
            dtype=np.float64,
        ) * (self.recipe.unfrozen_lr_scale if unfrozen else 1.0)

    def after_epoch(self, epoch: int, val_loss: float | None, val_accuracy: float | None) -> tuple[bool, bool]:
        """Update plateau and early stopping from this epoch's validation figures.

        Returns (best so far for early stopping, stop now).
        """
        plateau = self.recipe.plateau
        if plateau and val_loss is not None:
            if val_loss < self._plateau_best - plateau.min_delta:
                self._plateau_best, self._plateau_wait = val_loss, 0
            else:
                self._plateau_wait += 1
                if self._plateau_wait >= plateau.patience:
                    self.plateau_scale *= plateau.factor
                    self._plateau_wait = 0
        rule = self.recipe.early_stopping
        if rule is None:
            return False, False
        value = val_loss if rule.monitor == "val_loss" else val_accuracy
        if value is None:
            return False, False
        better = self._stop_best is None or (
            value < self._stop_best if rule.monitor == "val_loss" else value > self._stop_best
        )
        if better:
            self._stop_best, self._stop_wait, self.best_epoch = value, 0, epoch
            return True, False
        self._stop_wait += 1
        return False, self._stop_wait >= rule.patience

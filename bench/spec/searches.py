"""The papers' searches as data: what r2's Optuna search varied, and over which ranges.

A search space names a model's parameters (`Spec.parameters`) plus the trial's `learning_rate` and
`batch_size`; each maps to a range or a list of choices. bench.run.tune turns them into Optuna
distributions; nothing here imports Optuna.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.errors import BenchError

TRIAL_PARAMETERS = ("learning_rate", "batch_size")  # the rest are the model's parameters


@dataclass(frozen=True)
class FloatRange:
    low: float
    high: float
    log: bool = False
    step: float | None = None  # a grid within the range (not with log)


@dataclass(frozen=True)
class Choice:
    values: tuple


@dataclass(frozen=True)
class SearchSpace:
    name: str
    model: str  # a base model whose parameters the space varies
    recipe: str
    parameters: dict  # parameter name -> FloatRange | Choice
    note: str  # what the report states and what is ours

    def model_parameters(self, chosen: dict) -> dict:
        return {key: value for key, value in chosen.items() if key not in TRIAL_PARAMETERS}

    def describe(self) -> str:
        parts = []
        for key, space in self.parameters.items():
            if isinstance(space, Choice):
                parts.append(f"{key} in {{{', '.join(f'{v:g}' for v in space.values)}}}")
            else:
                detail = " (log)" if space.log else f" (step {space.step:g})" if space.step else ""
                parts.append(f"{key} in [{space.low:g}, {space.high:g}]{detail}")
        return "; ".join(parts)


R2_TUNED_CNN = SearchSpace(
    name="r2",
    model="r2_tuned_cnn",
    recipe="r2",
    parameters={
        "filters1": Choice((16, 32, 64)),
        "filters2": Choice((32, 64, 128)),
        "kernel": Choice((3, 5)),
        "dense": Choice((128, 256, 512)),
        "dropout": FloatRange(0.2, 0.6, step=0.05),
        "learning_rate": FloatRange(1e-4, 1e-2, log=True),
        "batch_size": Choice((32, 64, 128)),
    },
    note=(
        "r2 names the searched quantities (filters, kernel sizes, dense units, learning rate, batch size, "
        "dropout; 5 Optuna trials) but not their ranges: these ranges are ours, around the report's values "
        "(32/64 filters, 3x3 kernels, 256 units, dropout 0.5, Adam 1e-3)"
    ),
)

SEARCHES = {space.model: space for space in (R2_TUNED_CNN,)}


def search_for(model: str) -> SearchSpace:
    if model not in SEARCHES:
        raise BenchError(f"no search space for model {model!r}; searches exist for {', '.join(SEARCHES)}")
    return SEARCHES[model]


def objective(record: dict) -> float | None:
    """What a search selects on: the validation accuracy of the weights a finished trial ends with (early
    stopping's restored epoch, else the last), i.e. what its test score would be of; None unless it finished."""
    if record["status"] != "ok":
        return None
    restored = (record.get("early_stopping") or {}).get("restored_epoch")
    return record["epochs"][(restored or len(record["epochs"])) - 1].get("val_accuracy")

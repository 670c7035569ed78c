"""A trial as data: everything that defines one training run (model, framework, device, budget, recipe,
speed options), and its identity, the hash that --resume and the result files go by."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields

from bench.spec import registry
from bench.spec.execution import Execution
from bench.spec.recipes import DEFAULT_VAL_SIZE, get_recipe, identity_fields

# A field renamed since trial ids were first hashed keeps its first name in the identity, so that ids stay as
# they were: the backend was recorded as the one framework with several had it (schema versions 1 to 3).
IDENTITY_NAMES = {"backend": "keras_backend"}


@dataclass(frozen=True)
class TrialConfig:
    """Everything that defines a trial; its hash is the trial's identity (for --resume)."""

    model: str
    framework: str
    device: str
    batch_size: int
    seed: int
    epochs: int
    recipe: str = "baseline"
    dataset: str = "cifar10"
    val_size: int = DEFAULT_VAL_SIZE
    train_subset: int | None = None
    test_subset: int | None = None  # None: the whole test set
    threads: int = 1
    learning_rate: float | None = None  # None: the recipe's
    lr_scaling: str = "none"  # none | linear | sqrt: lr scaled by batch_size / the recipe's batch size
    target_accuracy: float | None = None  # validation accuracy for time-to-accuracy; None: per dataset
    weights: str | None = None  # a local torchvision-format weights file to start from
    execution: Execution = Execution()  # the speed options; flat in the record and in the identity
    init: str = "native"  # native | torch | keras: weight initialisation, the same on both sides if not native
    backend: str | None = None  # the framework's backend, for a framework with several (keras)
    image_size: int | None = None  # an image folder's images resized to this (None: bench.data.folder's default)
    # A search's trial (bench.run.tune): {"space", "study", "candidate", "role", "parameters"}. A "candidate"
    # is selected on validation accuracy and never sees the test set; the "final" trial scores it once.
    search: dict | None = None
    # Where to look for data changes nothing about the trial, so it is not part of the identity.
    data_dir: str | None = field(default=None, compare=False)
    offline: bool = field(default=False, compare=False)  # refuse to download a missing dataset
    note: str = field(default="", compare=False)  # the suite's word on how this trial departs from the report

    def __hash__(self) -> int:  # `search` is a dict: hash the identity instead of the fields
        return hash(self.trial_id)

    @property
    def scores_test(self) -> bool:
        return not self.search or self.search.get("role") != "candidate"

    def own_init(self) -> dict | None:
        """The model's own initialisation (its spec's `init`) where it starts from it: init native. None for a
        model the registry does not know (its trial fails as a row of its own)."""
        if self.init != "native" or self.model.split(":")[0] not in registry.base_names():
            return None
        return registry.spec(self.model).init

    def identity(self, recipe: dict | None = None, own_init: dict | None | str = "today's") -> dict:
        """The fields that define the trial; those at their default are left out, so adding a field
        whose default keeps the old behaviour does not change existing trials' ids. The recipe's part is
        today's recipe of its name, or `recipe` (a recipe as a record holds it); the model's own
        initialisation is today's spec's, or `own_init` (as a record holds it: a record from before the spec
        declared one is another trial)."""
        values = {
            IDENTITY_NAMES.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if f.compare and f.name != "execution" and (f.default is MISSING or getattr(self, f.name) != f.default)
        }
        values.update(
            {
                f.name: getattr(self.execution, f.name)
                for f in fields(Execution)
                if getattr(self.execution, f.name) != f.default
            }
        )
        if self.weights:  # the file, not where this machine keeps it (its sha256 is in the record)
            values["weights"] = os.path.basename(self.weights)
        if self.dataset == "folder":  # there the folder is the data: two folders are two trials
            values["data_dir"] = os.path.basename(os.path.normpath(self.data_dir or ""))
        own_init = self.own_init() if own_init == "today's" else own_init
        if own_init:
            values["own_init"] = own_init
        values["resolved_recipe"] = identity_fields(recipe if recipe is not None else self.resolved_recipe().as_dict())
        return values

    @property
    def trial_id(self) -> str:
        return hashed(self.identity())

    def resolved_recipe(self):
        recipe = get_recipe(self.recipe)
        base_lr = self.learning_rate or recipe.learning_rate
        ratio = self.batch_size / recipe.batch_size
        factor = {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[self.lr_scaling]
        return recipe.with_overrides(batch_size=self.batch_size, epochs=self.epochs, learning_rate=base_lr * factor)

    def record(self) -> dict:
        """Every field as JSON-ready values, the execution options flat among them (as a record's config)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "execution"}
        return {**copy.deepcopy(values), **asdict(self.execution)}

    @classmethod
    def from_record(cls, values: dict) -> TrialConfig:
        """The trial of a record's config (or of `record()`); keys that are not fields are left out."""
        names = {f.name for f in fields(cls)} - {"execution"}
        return cls(**{k: v for k, v in values.items() if k in names}, execution=Execution.of(values))

    @property
    def runtime(self) -> str:
        """The framework, with its backend where it has one: 'torch', 'keras[jax]'."""
        return f"{self.framework}[{self.backend}]" if self.backend else self.framework

    def label(self) -> str:
        variant = self.execution.label()
        return (
            f"{self.model} {self.runtime} {self.device} bs{self.batch_size}"
            + (f" lr{self.learning_rate:g}" if self.learning_rate else "")
            + f" seed{self.seed}"
            + (f" [{variant}]" if variant != "fast" else "")
            + (
                " ("
                + " ".join(
                    str(part) for part in (self.search["role"], self.search.get("candidate")) if part is not None
                )
                + ")"
                if self.search
                else ""
            )
        )


def hashed(identity: dict) -> str:
    """A trial's id: 16 hex digits of the hash of its identity."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

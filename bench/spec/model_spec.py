"""What a model folder declares besides its layers: `SPEC = Spec(...)` in `models/<name>/spec.py`, beside its
`layers(num_classes, **options)` (bench.spec.registry finds and reads both)."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("trained", "pretrained", "yardstick")


@dataclass(frozen=True)
class Part:
    """A part of a paper: the model (`variant`, its option text such as 'stem=cifar'; '' the base model) under
    the paper's recipe, on the paper's dataset. The suites that reproduce the papers are made of these."""

    recipe: str
    dataset: str = "cifar10"
    variant: str = ""


@dataclass(frozen=True)
class Spec:
    """A model's declaration.

    - paper: which of the five source papers (`../shared/REPORTS.md`) the model is from, or "reference";
    - description, interpretation: what it is, and how we read what the paper left open;
    - published: the paper's figures (test_accuracy or val_accuracy, params, epochs, dataset, ...);
    - parts: the paper's parts this model is, each with its recipe and dataset;
    - options: named choices, first the default, each other one a model of its own (`r4_resnet34:stem=cifar`);
    - parameters: numbers within a range, `name: (default, low, high)`, the knobs of a search;
    - role: trained from scratch by the suites, a `pretrained` layout for torchvision's ImageNet weights, or the
      `yardstick`; pretrained_option: option values that make a variant such a layout;
    - init: the initialisation the model's source uses (bench.spec.initialisation), where the frameworks'
      defaults would not train it.
    """

    paper: str
    description: str
    interpretation: str
    published: dict = field(default_factory=dict)
    parts: tuple[Part, ...] = ()
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    parameters: dict[str, tuple] = field(default_factory=dict)
    role: str = "trained"
    pretrained_option: dict[str, str] = field(default_factory=dict)
    init: dict | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"Spec role {self.role!r}: choose from {', '.join(ROLES)}")

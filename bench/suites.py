"""Named sweeps: which model runs with which recipe on which data, at what budget.

A suite is a list of entries; `run` crosses them with frameworks, batch sizes and seeds.
Command-line flags override an entry's fields (`--suite default --epochs 1` is a shorter default).
An entry's budget left unset is its recipe's (the report's own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.data import DEFAULT_VAL_SIZE
from bench.errors import BenchError
from bench.recipes import get_recipe


@dataclass(frozen=True)
class Entry:
    model: str
    recipe: str = "baseline"
    dataset: str = "cifar10"
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None  # None: the recipe's
    train_subset: int | None = None  # None: the whole training split
    val_size: int = DEFAULT_VAL_SIZE  # validation images held out of the training set
    test_subset: int | None = None  # None: the whole test set
    amp: str = "off"  # speed options, see bench.adapter.Execution
    channels_last: bool = False
    compile: str = "off"
    loader: str = "fast"
    target_accuracy: float | None = None  # validation accuracy for time to accuracy; None: per dataset
    note: str = ""  # how and why this entry departs from the report (budget, data)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: tuple[Entry, ...]
    frameworks: tuple[str, ...] = ("torch", "keras")
    seeds: tuple[int, ...] = (0,)


SKELETON_MODELS = ("r2_vanilla_cnn", "r3_deep_cnn")

# Each report part: (model, recipe, dataset). r4 trained on CIFAR-100.
REPORT_PARTS = (
    ("r0_deep_cnn", "r0", "cifar10"),
    ("r1_vgg_cnn", "r1", "cifar10"),
    ("r2_vanilla_cnn", "r2", "cifar10"),
    ("r2_tuned_cnn", "r2", "cifar10"),
    ("r2_efficientnet_b0", "r2", "cifar10"),
    ("r2_squeezenet1_1", "r2_squeezenet", "cifar10"),
    ("r3_deep_cnn", "r3", "cifar10"),
    ("r4_simple_cnn", "r4_simple", "cifar100"),
    ("r4_resnet34", "r4_resnet", "cifar100"),
    ("r4_resnet34:stem=cifar", "r4_resnet", "cifar100"),
)
ALL_MODELS = ("r0_deep_cnn", "r1_vgg_cnn", "r2_vanilla_cnn", "r2_tuned_cnn", "r2_efficientnet_b0",
              "r2_squeezenet1_1", "r3_deep_cnn", "r4_simple_cnn", "r4_resnet34", "r4_resnet34:stem=cifar",
              "resnet18")

# reports-quick: every report part on this 2-core CPU in well under 40 minutes for both frameworks.
# Budgets scale by training images and epochs; heavy models get fewer images. CIFAR-100 has no
# offline copy, so r4's parts train on CIFAR-10 here with r4's recipes (labelled in every row).
QUICK_IMAGES = {"r4_resnet34:stem=cifar": 300, "r2_efficientnet_b0": 500, "r1_vgg_cnn": 1000,
                "r4_simple_cnn": 1000, "r3_deep_cnn": 1000}
QUICK_NOTE = ("budget scaled for a 2-core CPU: {images} class-balanced training images, 2 epochs, 1,000 "
              "validation and 2,000 test images (the report: full sets, {epochs} epochs){data}")


def _quick(model: str, recipe: str, dataset: str) -> Entry:
    images = QUICK_IMAGES.get(model, 2000)
    data_note = "; CIFAR-10 instead of CIFAR-100 (no offline copy)" if dataset == "cifar100" else ""
    return Entry(model, recipe, "cifar10", epochs=2, train_subset=images, val_size=1000, test_subset=2000,
                 note=QUICK_NOTE.format(images=images, epochs=get_recipe(recipe).epochs, data=data_note))


# common-quick: the common recipe's architecture comparison at one budget every model can afford on a
# 2-core CPU (the heaviest, ResNet-34 with the CIFAR stem, takes about 5 minutes a trial in torch).
COMMON_QUICK_BUDGET = dict(epochs=3, train_subset=2000, val_size=1000, test_subset=2000, target_accuracy=0.30)
COMMON_QUICK_NOTE = ("budget scaled for a 2-core CPU: {train_subset:,} class-balanced training images, {epochs} epochs "
                     "(cosine over {epochs}), {val_size:,} validation and {test_subset:,} test images, time to "
                     "{percent:.0f} % validation accuracy; the same for every model")
COMMON_QUICK = tuple(Entry(m, "common", **COMMON_QUICK_BUDGET, note=COMMON_QUICK_NOTE.format(
    **COMMON_QUICK_BUDGET, percent=100 * COMMON_QUICK_BUDGET["target_accuracy"])) for m in ALL_MODELS)

# The GPU suite: every model, each framework at its best (bf16, channels-last, compiled, data on the
# device) and torch's naive loop (DataLoader + per-image transforms, float32, eager) at the same
# batch size, 2 epochs; plus ResNet-18 under the one-cycle recipe to 93 % validation accuracy.
GPU_FAST = dict(amp="bf16", channels_last=True, compile="default")
RESNET18_TO_93 = Entry("resnet18", "onecycle", target_accuracy=0.93, **GPU_FAST,
                       note="time to 93 % validation accuracy; one-cycle SGD, 20 epochs at batch 512")
GPU_SUITE = tuple(
    [Entry(m, "baseline", epochs=2, batch_size=512, **GPU_FAST) for m in ALL_MODELS]
    + [Entry(m, "baseline", epochs=2, batch_size=512, loader="naive") for m in ALL_MODELS]
    + [RESNET18_TO_93]
)
# gpu-smoke: does every model run in every framework and backend on this GPU? One short epoch each, eager
# (compilation is what the gpu suite times), so a crash shows within minutes.
GPU_SMOKE_BUDGET = dict(epochs=1, batch_size=512, train_subset=2048, val_size=1000, test_subset=2000)
GPU_SMOKE = tuple(Entry(m, "baseline", **GPU_SMOKE_BUDGET, amp="bf16", channels_last=True,
                        note="smoke run: 1 epoch on 2,048 images, eager; does it run, not how well")
                  for m in ALL_MODELS)
# common-gpu: the architecture comparison at a GPU budget, the fast path, the whole training split.
COMMON_GPU = tuple(Entry(m, "common", epochs=10, batch_size=512, **GPU_FAST,
                         note="GPU budget: 10 epochs (cosine over 10) at batch 512, the whole training split")
                   for m in ALL_MODELS)

# reports-gpu: every report part with its own recipe on the whole training split, sized to about 8 minutes
# of one H200 for torch and keras together. An epoch's time is estimated from the H200 rows of d21dc03:
# about 4 ms per optimizer step of overhead for the small CNNs compiled (6 ms here: eager, so that no
# trial spends 20-40 s compiling), plus the training FLOPs at 100 TFLOP/s (ResNet-18 trained at 141
# compiled); keras (JAX) took up to 2x torch's time; each trial also costs about 10 s to start.
GPU_BUDGET_S = 8 * 60
GPU_STEP_OVERHEAD_S = 0.006
GPU_TRAIN_FLOP_RATE = 100e12
GPU_TRIAL_START_S = 10.0
KERAS_TIME_FACTOR = 2.0
TRAIN_IMAGES = 45_000


def estimated_gpu_epoch_s(model: str, batch_size: int, num_classes: int) -> float:
    from bench import layers, registry

    flops = layers.forward_flops(registry.layers(model, num_classes))
    return math.ceil(TRAIN_IMAGES / batch_size) * (GPU_STEP_OVERHEAD_S + 3 * flops * batch_size / GPU_TRAIN_FLOP_RATE)


def _reports_gpu() -> tuple[Entry, ...]:
    """Each part gets an equal share of the training time left after the trials' start-up, in epochs."""
    share = (GPU_BUDGET_S - 2 * len(REPORT_PARTS) * GPU_TRIAL_START_S) / (len(REPORT_PARTS) * (1 + KERAS_TIME_FACTOR))
    entries = []
    for model, recipe, dataset in REPORT_PARTS:
        budget = get_recipe(recipe)
        epoch_s = estimated_gpu_epoch_s(model, budget.batch_size, 100 if dataset == "cifar100" else 10)
        epochs = max(1, min(budget.epochs, int(share // epoch_s)))
        data_note = "; CIFAR-10 instead of CIFAR-100 (no offline copy)" if dataset == "cifar100" else ""
        entries.append(Entry(model, recipe, "cifar10", epochs=epochs, amp="bf16", channels_last=True,
                             note=f"budget sized for ~8 min of one H200 for both frameworks: {epochs} of the "
                                  f"report's {budget.epochs} epochs (estimated {epoch_s:.1f} s each), whole "
                                  f"training split, eager bf16{data_note}"))
    return tuple(entries)


SUITES = {
    "default": Suite("default", "quick CPU check: both skeleton models, both frameworks, 2 epochs on a "
                     "5,000-image class-balanced subset",
                     tuple(Entry(m, epochs=2, train_subset=5000) for m in SKELETON_MODELS)),
    "skeleton": Suite("skeleton", "both skeleton models, both frameworks, 3 epochs on the full 45,000-image "
                      "training split (the committed CPU results)",
                      tuple(Entry(m, epochs=3) for m in SKELETON_MODELS)),
    "reports": Suite("reports", "every report's model with its own recipe and full budget (meant for a GPU)",
                     tuple(Entry(m, r, d) for m, r, d in REPORT_PARTS)),
    "reports-quick": Suite("reports-quick", "every report's model with its own recipe, budgets scaled to "
                           "finish on a 2-core CPU", tuple(_quick(*part) for part in REPORT_PARTS)),
    "gpu": Suite("gpu", "for one GPU: every model x framework, fast path and torch's naive loop, batch 512, "
                 "2 epochs; ResNet-18 to 93 % (the default with --device cuda)", GPU_SUITE),
    "gpu-smoke": Suite("gpu-smoke", "for one GPU: every model x framework, 1 eager epoch on 2,048 images "
                       "(does everything run?)", GPU_SMOKE),
    "reports-gpu": Suite("reports-gpu", "every report part with its own recipe, sized to ~8 minutes of one H200 "
                         "for both frameworks", _reports_gpu()),
    "common-gpu": Suite("common-gpu", "every model under the common recipe at a GPU budget (10 epochs, batch "
                        "512, fast path)", COMMON_GPU),
    "common": Suite("common", "every model under the common recipe and budget (30 epochs, cosine)",
                    tuple(Entry(m, "common") for m in ALL_MODELS)),
    "common-quick": Suite("common-quick", "every model under the common recipe at one budget a 2-core CPU "
                          "affords (2,000 images, 3 epochs)", COMMON_QUICK),
}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise BenchError(f"unknown suite {name!r}; choose from {', '.join(SUITES)}")
    return SUITES[name]

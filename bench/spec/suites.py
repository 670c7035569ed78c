"""Named sweeps: which model runs with which recipe on which data, at what budget.

A suite is a list of entries; `run` crosses them with frameworks, batch sizes, learning rates and seeds.
Command-line flags override an entry's fields (`--suite default --epochs 1` is a shorter default).
An entry's budget left unset is its recipe's (the paper's own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bench.errors import unknown
from bench.spec import registry
from bench.spec.execution import Execution
from bench.spec.recipes import DEFAULT_VAL_SIZE, get_recipe


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
    execution: Execution = Execution()  # the speed options
    target_accuracy: float | None = None  # validation accuracy for time to accuracy; None: per dataset
    weights: str | None = None  # a torchvision weights file this entry starts from, looked up in --weights-dir
    note: str = ""  # how and why this entry departs from the report (budget, data)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: tuple[Entry, ...]
    frameworks: tuple[str, ...] = ()  # empty: every framework cnnbench has (bench.frameworks.FRAMEWORKS)
    seeds: tuple[int, ...] = (0,)
    batch_sizes: tuple[int, ...] = ()  # a grid crossed with the learning rates (--batch-size overrides)
    learning_rates: tuple[float, ...] = ()  # (--lr overrides)
    lr_scaling: str = ""  # the learning-rate rule across batch sizes; "": none (--lr-scaling overrides)
    device: str = "cpu"  # what its budgets are sized for: run elsewhere, it is warned about


SKELETON_MODELS = ("r2_vanilla_cnn", "r3_deep_cnn")

# Each paper's part: (model, recipe, dataset), declared by the model's spec (`Spec.parts`). r4 trained on CIFAR-100.
PAPER_PARTS = registry.paper_parts()
ALL_MODELS = registry.models_for("trained")  # every model trained from scratch, found in models/

# reports-quick: every report part on this 2-core CPU in well under 40 minutes for both frameworks.
# Budgets scale by training images and epochs; heavy models get fewer images. CIFAR-100 has no
# offline copy, so r4's parts train on CIFAR-10 here with r4's recipes (labelled in every row).
QUICK_IMAGES = {
    "r4_resnet34:stem=cifar": 300,
    "r2_efficientnet_b0": 500,
    "r1_vgg_cnn": 1000,
    "r4_simple_cnn": 1000,
    "r3_deep_cnn": 1000,
}
QUICK_NOTE = (
    "budget scaled for a 2-core CPU: {images} class-balanced training images, 2 epochs, 1,000 "
    "validation and 2,000 test images (the report: full sets, {epochs} epochs){data}"
)


def _quick(model: str, recipe: str, dataset: str) -> Entry:
    images = QUICK_IMAGES.get(model, 2000)
    data_note = "; CIFAR-10 instead of CIFAR-100 (no offline copy)" if dataset == "cifar100" else ""
    return Entry(
        model,
        recipe,
        "cifar10",
        epochs=2,
        train_subset=images,
        val_size=1000,
        test_subset=2000,
        note=QUICK_NOTE.format(images=images, epochs=get_recipe(recipe).epochs, data=data_note),
    )


# papers-cpu: the campaign of converged CPU results: every paper part a 2-core CPU can train at the paper's
# own recipe, batch size and epoch count on the whole training split, cheapest first. Run it with --resume
# (hours); seed 0 of every part, then `--model r2_vanilla_cnn --seeds 1 2` for an interval
# (see docs/recipes-and-suites.md).
PAPERS_CPU_PARTS = (
    ("r2_vanilla_cnn", "r2"),
    ("r2_tuned_cnn", "r2"),
    ("r2_squeezenet1_1", "r2_squeezenet"),
    ("r3_deep_cnn", "r3"),
    ("r0_deep_cnn", "r0"),
)
PAPERS_CPU = tuple(
    Entry(model, recipe, note="the paper's recipe, batch size and epochs; the whole training split")
    for model, recipe in PAPERS_CPU_PARTS
)

# frontier-cpu and r0-batch-cpu: batch-size experiments designed to answer (bench.report.evidence): one model,
# recipe and data, every batch size on the whole training split for the recipe's epochs, one learning-rate rule.
FRONTIER_CPU = Entry("r2_vanilla_cnn", "r2", note="the batch-size frontier: r2's recipe and epochs, whole split")
FRONTIER_BATCH_SIZES = (32, 64, 128, 256, 512)
R0_BATCH_CPU = Entry("r0_deep_cnn", "r0", note="r0's batch-size table: r0's recipe and epochs, whole split")


# common-quick: the common recipe's architecture comparison at one budget every model can afford on a
# 2-core CPU (the heaviest, ResNet-34 with the CIFAR stem, takes about 5 minutes a trial in torch).
COMMON_QUICK_BUDGET = dict(epochs=3, train_subset=2000, val_size=1000, test_subset=2000, target_accuracy=0.30)
COMMON_QUICK_NOTE = (
    "budget scaled for a 2-core CPU: {train_subset:,} class-balanced training images, {epochs} epochs "
    "(cosine over {epochs}), {val_size:,} validation and {test_subset:,} test images, time to "
    "{percent:.0f} % validation accuracy; the same for every model"
)
COMMON_QUICK = tuple(
    Entry(
        m,
        "common",
        **COMMON_QUICK_BUDGET,
        note=COMMON_QUICK_NOTE.format(**COMMON_QUICK_BUDGET, percent=100 * COMMON_QUICK_BUDGET["target_accuracy"]),
    )
    for m in ALL_MODELS
)

# The GPU suite: every model, each framework at its best (bf16, channels-last, compiled, data on the
# device) and torch's naive loop (DataLoader + per-image transforms, float32, eager) at the same
# batch size, 2 epochs; plus ResNet-18 under the one-cycle recipe to 93 % validation accuracy.
GPU_FAST = Execution(amp="bf16", channels_last=True, compile="default")
RESNET18_TO_93 = Entry(
    "resnet18",
    "onecycle",
    target_accuracy=0.93,
    execution=GPU_FAST,
    note="time to 93 % validation accuracy; one-cycle SGD, 20 epochs at batch 512",
)
GPU_SUITE = tuple(
    [Entry(m, "baseline", epochs=2, batch_size=512, execution=GPU_FAST) for m in ALL_MODELS]
    + [Entry(m, "baseline", epochs=2, batch_size=512, execution=Execution(loader="naive")) for m in ALL_MODELS]
    + [RESNET18_TO_93]
)
# The yardstick: airbench94's network under its own recipe (see recipe airbench94 for what differs from
# airbench itself), every speed option on, 5 seeds; the airbench package's own run is `bench yardstick`.
YARDSTICK_MODELS = registry.models_for("yardstick")
GPU_FASTEST = replace(GPU_FAST, fused_optimizer=True, cudnn_benchmark=True)
YARDSTICK = tuple(
    Entry(
        m,
        "airbench94",
        target_accuracy=0.94,
        execution=GPU_FASTEST,
        note="airbench94's network, hyperparameters, whitening and test-time augmentation under "
        "this harness's protocol: 45,000 training images, no lookahead",
    )
    for m in YARDSTICK_MODELS
)
# gpu-speed: the per-step overhead against the batch size, for the models the speed targets name; the learning
# rate follows the batch size (linear).
GPU_SPEED = tuple(Entry(m, "baseline", epochs=2, execution=GPU_FASTEST) for m in ("r2_vanilla_cnn", "resnet18"))

# gpu-smoke: does every model run in every framework and backend on this GPU? One short epoch each, eager
# (compilation is what the gpu suite times), so a crash shows within minutes.
GPU_SMOKE_BUDGET = dict(epochs=1, batch_size=512, train_subset=2048, val_size=1000, test_subset=2000)
GPU_EAGER = Execution(amp="bf16", channels_last=True)  # the fast path without compilation
GPU_SMOKE = tuple(
    Entry(
        m,
        "baseline",
        **GPU_SMOKE_BUDGET,
        execution=GPU_EAGER,
        note="smoke run: 1 epoch on 2,048 images, eager; does it run, not how well",
    )
    for m in ALL_MODELS
)
# common-gpu: the architecture comparison at a GPU budget, the fast path, the whole training split.
COMMON_GPU = tuple(
    Entry(
        m,
        "common",
        epochs=10,
        batch_size=512,
        execution=GPU_FAST,
        note="GPU budget: 10 epochs (cosine over 10) at batch 512, the whole training split",
    )
    for m in ALL_MODELS
)

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
    from bench.spec import layers, registry

    flops = layers.forward_flops(registry.layers(model, num_classes))
    return math.ceil(TRAIN_IMAGES / batch_size) * (GPU_STEP_OVERHEAD_S + 3 * flops * batch_size / GPU_TRAIN_FLOP_RATE)


def _reports_gpu() -> tuple[Entry, ...]:
    """Each part gets an equal share of the training time left after the trials' start-up, in epochs."""
    share = (GPU_BUDGET_S - 2 * len(PAPER_PARTS) * GPU_TRIAL_START_S) / (len(PAPER_PARTS) * (1 + KERAS_TIME_FACTOR))
    entries = []
    for model, recipe, dataset in PAPER_PARTS:
        budget = get_recipe(recipe)
        epoch_s = estimated_gpu_epoch_s(model, budget.batch_size, 100 if dataset == "cifar100" else 10)
        epochs = max(1, min(budget.epochs, int(share // epoch_s)))
        data_note = "; CIFAR-10 instead of CIFAR-100 (no offline copy)" if dataset == "cifar100" else ""
        entries.append(
            Entry(
                model,
                recipe,
                "cifar10",
                epochs=epochs,
                execution=GPU_EAGER,
                note=f"budget sized for ~8 min of one H200 for both frameworks: {epochs} of the "
                f"report's {budget.epochs} epochs (estimated {epoch_s:.1f} s each), whole "
                f"training split, eager bf16{data_note}",
            )
        )
    return tuple(entries)


# r4's grid search: learning rate {0.01, 0.1, 0.5} x batch size {32, 64, 128}. The report does not say on
# which model; its SGD rates fit its ResNet-34 recipe (SGD 0.01, cosine), so the full grid is ResNet-34
# (ImageNet stem, as reported) on CIFAR-100. The quick variant is a CPU stand-in: r4's SimpleCNN under the
# same SGD recipe, 1,000 CIFAR-10 images, 2 epochs.
R4_GRID = dict(batch_sizes=(32, 64, 128), learning_rates=(0.01, 0.1, 0.5))
R4_GRID_QUICK = Entry(
    "r4_simple_cnn",
    "r4_resnet",
    "cifar10",
    epochs=2,
    train_subset=1000,
    val_size=1000,
    test_subset=2000,
    note="CPU stand-in for r4's grid: SimpleCNN under r4's ResNet-34 recipe (SGD, cosine), 1,000 "
    "class-balanced CIFAR-10 images (no CIFAR-100 copy), 2 epochs, 2,000 test images",
)

# Transfer learning from torchvision's ImageNet weights (files, never downloaded here; see docs/models.md):
# r1's three fine-tuned models on 32x32 inputs, r2's pretrained EfficientNet, r4's pretrained ResNet-34.
# (model, recipe, dataset, torchvision's file name: IMAGENET1K_V1 weights)
TRANSFER_PARTS = (
    ("resnet50", "r1_transfer", "cifar10", "resnet50-0676ba61.pth"),
    ("vgg16", "r1_transfer", "cifar10", "vgg16-397923af.pth"),
    ("r2_squeezenet1_1", "r1_transfer", "cifar10", "squeezenet1_1-b8a52dc0.pth"),
    ("r2_efficientnet_b0:stem=imagenet", "r2_pretrained", "cifar10", "efficientnet_b0_rwightman-7f5810bc.pth"),
    ("r4_resnet34", "r4_pretrained", "cifar100", "resnet34-b627a593.pth"),
)


def _transfer_quick(model: str, recipe: str, dataset: str, weights: str) -> Entry:
    """Both fine-tuning phases (frozen, then all layers) on a few hundred images: does it run, and learn?"""
    epochs = get_recipe(recipe).freeze_epochs + 1
    data_note = "; CIFAR-10 instead of CIFAR-100 (no offline copy)" if dataset == "cifar100" else ""
    return Entry(
        model,
        recipe,
        "cifar10",
        epochs=epochs,
        train_subset=500,
        val_size=500,
        test_subset=500,
        weights=weights,
        note=f"budget scaled for a 2-core CPU: 500 class-balanced training images, {epochs} "
        f"epochs (every fine-tuning phase), 500 validation and test images{data_note}",
    )


# default: your machine's answer in minutes (bench.report.here). Accuracy comes from the committed converged rows
# (the reference: papers-cpu and frontier-cpu); this suite times, on this machine and through the trial's own path,
# what those rows trained: every part of papers-cpu at its paper's batch size and the frontier's batch sizes.
# Two epochs on a subset of at least TIMING_STEPS batches: the first warms up, the second is the steady epoch time;
# their accuracy answers nothing.
TIMING_IMAGES = 2048
TIMING_STEPS = 16


def _timed(entry: Entry, batch_size: int) -> Entry:
    """`entry` at `batch_size`, sized to time it: two epochs of TIMING_IMAGES (TIMING_STEPS batches at least)."""
    images = max(TIMING_IMAGES, TIMING_STEPS * batch_size)
    return replace(
        entry,
        epochs=2,
        batch_size=batch_size,
        train_subset=images,
        val_size=512,
        test_subset=512,
        note=f"timing only: 2 epochs on {images:,} images, the second timed; accuracy from the reference rows",
    )


TIMED_PARTS = tuple(_timed(Entry(model, recipe), get_recipe(recipe).batch_size) for model, recipe in PAPERS_CPU_PARTS)
TIMED_FRONTIER = tuple(
    _timed(FRONTIER_CPU, batch) for batch in FRONTIER_BATCH_SIZES if batch != get_recipe(FRONTIER_CPU.recipe).batch_size
)

SUITES = {
    "default": Suite(
        "default",
        "your machine's answer: times every part of papers-cpu at its paper's batch size and the frontier's batch "
        "sizes here (2 epochs on 2,048 images, 16 batches at least); accuracy from the committed converged rows",
        TIMED_PARTS + TIMED_FRONTIER,
    ),
    "quick": Suite(
        "quick",
        "quick CPU check: both skeleton models, both frameworks, 2 epochs on a 5,000-image class-balanced subset",
        tuple(Entry(m, epochs=2, train_subset=5000) for m in SKELETON_MODELS),
    ),
    "skeleton": Suite(
        "skeleton",
        "both skeleton models, both frameworks, 3 epochs on the full 45,000-image "
        "training split (the committed CPU results)",
        tuple(Entry(m, epochs=3) for m in SKELETON_MODELS),
    ),
    "reports": Suite(
        "reports",
        "every report's model with its own recipe and full budget (meant for a GPU)",
        tuple(Entry(m, r, d) for m, r, d in PAPER_PARTS),
        device="cuda",
    ),
    "reports-quick": Suite(
        "reports-quick",
        "every report's model with its own recipe, budgets scaled to finish on a 2-core CPU",
        tuple(_quick(*part) for part in PAPER_PARTS),
    ),
    "gpu": Suite(
        "gpu",
        "for one GPU: every model x framework, fast path and torch's naive loop, batch 512, "
        "2 epochs; ResNet-18 to 93 % (the default with --device cuda)",
        GPU_SUITE,
        device="cuda",
    ),
    "gpu-smoke": Suite(
        "gpu-smoke",
        "for one GPU: every model x framework, 1 eager epoch on 2,048 images (does everything run?)",
        GPU_SMOKE,
        device="cuda",
    ),
    "reports-gpu": Suite(
        "reports-gpu",
        "every report part with its own recipe, sized to ~8 minutes of one H200 for both frameworks",
        _reports_gpu(),
        device="cuda",
    ),
    "common-gpu": Suite(
        "common-gpu",
        "every model under the common recipe at a GPU budget (10 epochs, batch 512, fast path)",
        COMMON_GPU,
        device="cuda",
    ),
    "yardstick": Suite(
        "yardstick",
        "for one GPU: airbench94's network and recipe, every speed option, 5 seeds "
        "(the reference every GPU row is read against)",
        YARDSTICK,
        seeds=(0, 1, 2, 3, 4),
        device="cuda",
    ),
    "gpu-speed": Suite(
        "gpu-speed",
        "for one GPU: r2_vanilla_cnn and resnet18 with every speed option at batch "
        "512, 1024 and 2048 (learning rate scaled linearly)",
        GPU_SPEED,
        batch_sizes=(512, 1024, 2048),
        lr_scaling="linear",
        device="cuda",
    ),
    "common": Suite(
        "common",
        "every model under the common recipe and budget (30 epochs, cosine)",
        tuple(Entry(m, "common") for m in ALL_MODELS),
        device="cuda",
    ),
    "r4-grid": Suite(
        "r4-grid",
        "report r4's grid: ResNet-34 (its recipe, CIFAR-100) at learning rate "
        "{0.01, 0.1, 0.5} x batch size {32, 64, 128} (meant for a GPU)",
        (Entry("r4_resnet34", "r4_resnet", "cifar100"),),
        **R4_GRID,
        device="cuda",
    ),
    "r4-grid-quick": Suite(
        "r4-grid-quick",
        "r4's grid on a 2-core CPU: SimpleCNN under r4's SGD recipe, 1,000 "
        "images, 2 epochs, the same 3 x 3 learning rates x batch sizes",
        (R4_GRID_QUICK,),
        **R4_GRID,
    ),
    "transfer": Suite(
        "transfer",
        "fine-tuning torchvision's ImageNet weights as r1, r2 and r4 did, full budgets "
        "(needs the weight files, see --weights-dir; meant for a GPU)",
        tuple(Entry(m, r, d, weights=w) for m, r, d, w in TRANSFER_PARTS),
        device="cuda",
    ),
    "transfer-quick": Suite(
        "transfer-quick",
        "the transfer suite on a 2-core CPU: 500 images, every fine-tuning phase once",
        tuple(_transfer_quick(*part) for part in TRANSFER_PARTS),
    ),
    "papers-cpu": Suite(
        "papers-cpu",
        "the papers' parts a 2-core CPU can converge: each paper's own recipe, "
        "batch size and epochs on the whole training split, both frameworks (hours; use --resume)",
        PAPERS_CPU,
    ),
    "frontier-cpu": Suite(
        "frontier-cpu",
        "the batch-size frontier at convergence: r2_vanilla_cnn under r2's recipe on the whole training split "
        "for 50 epochs at batch 32 to 512, learning rate scaled by the square root of the batch size (Adam's "
        "rule), both frameworks (hours; use --resume)",
        (FRONTIER_CPU,),
        batch_sizes=FRONTIER_BATCH_SIZES,
        lr_scaling="sqrt",
    ),
    "r0-batch-cpu": Suite(
        "r0-batch-cpu",
        "r0's own batch-size table at its budget, in Keras (r0's framework): r0_deep_cnn under r0's recipe on "
        "the whole training split at batch 32, 64, 128 and 256, r0's learning rate at every batch size "
        "(hours; use --resume)",
        (R0_BATCH_CPU,),
        frameworks=("keras",),
        batch_sizes=(32, 64, 128, 256),
    ),
    "common-quick": Suite(
        "common-quick",
        "every model under the common recipe at one budget a 2-core CPU affords (2,000 images, 3 epochs)",
        COMMON_QUICK,
    ),
}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise unknown("suite", name, SUITES)
    return SUITES[name]

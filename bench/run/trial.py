"""One training trial, framework-neutral: load data, build, train N epochs, score the test set once.

The adapter does the framework work; this loop owns the order of the training images
(one seeded permutation per epoch, the same for both frameworks), the synced timers, the
validation after each epoch (never inside the epoch time) and every metric.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bench.data import cifar
from bench.data.pretrained import file_sha256, read_torchvision
from bench.errors import BenchError
from bench.frameworks.base import get_adapter
from bench.measure import inference, metrics, peak_flops
from bench.measure.load import ForeignLoad
from bench.measure.memory import PeakRSS
from bench.measure.provenance import this_machine
from bench.measure.timing import SyncedTimer, on_last_machine, steady_epochs, summarise_epochs
from bench.paths import portable
from bench.results import blocks
from bench.results.blocks import block
from bench.run import failpoints, tta, whitening
from bench.run.checkpoints import FORMAT as CHECKPOINT_FORMAT
from bench.run.checkpoints import Checkpoints
from bench.run.control import TrainingControl
from bench.spec import layers, registry
from bench.spec.config import TrialConfig
from bench.spec.initialisation import initial_weights
from bench.spec.recipes import get_recipe

TARGET_ACCURACY = {"cifar10": 0.60, "cifar100": 0.30}  # defaults, validation accuracy; none for other data


class Diverged(Exception):
    """The training loss became NaN or infinite."""


@dataclass
class Built:
    """A model as built for a trial, and what was done to it before training."""

    layer_list: list
    model: Any  # the adapter's model
    pretrained: dict | None  # the weights file, and (appended while training) the freeze phases
    loaded: set[str]  # layers the weights file filled: frozen during the recipe's freeze epochs
    kept_frozen: set[str]  # layers frozen throughout (airbench's whitened first conv)
    initialisation: dict | None  # a data-dependent initialisation, for the record


def run(config: TrialConfig, emit: Callable[[dict], None], checkpoints: Checkpoints | None = None) -> dict:
    """Run one trial in this process; `emit` receives an event per epoch. Returns the result body. With
    `checkpoints`, every finished epoch is saved there and the trial goes on from the last one saved."""
    started = time.perf_counter()
    recipe = config.resolved_recipe()
    adapter = get_adapter(config.framework)
    adapter.setup(config.device, config.threads, config.seed, config.execution)
    if recipe.pretrained and not config.weights:
        raise BenchError(f"recipe {recipe.name} fine-tunes pretrained weights: give --weights")
    splits = trial_splits(config, recipe)
    dataset = splits.dataset
    mean, std = cifar.IMAGENET_NORMALISATION if recipe.pretrained else cifar.normalisation(dataset)
    built = build(config, recipe, adapter, dataset.num_classes, splits.train_x, mean, std)
    forward_flops = layers.forward_flops(built.layer_list, splits.train_x.shape[1:])
    model = model_block(config.model, adapter.count_params(built.model), forward_flops)  # before training: a
    # change to the models' folder during a long trial cannot lose its record
    state = prepare(adapter, built, recipe, splits, (mean, std), config.seed)
    with PeakRSS() as rss:
        loop = train(config, recipe, adapter, built, state, splits, emit, checkpoints=checkpoints, started=started)
        test_scores, inference_rate = score_test(config, recipe, adapter, built, state, splits) or (None, None)
    timing = block(
        blocks.Timing,
        **phase_timing(built.pretrained, loop.epochs, len(splits.train_y)),
        inference_images_per_s=inference_rate,
    )
    settings = adapter.settings(built.model)
    epochs = loop.epochs
    return {
        "recipe": recipe.as_dict(),
        "budget": budget_block(config, recipe, len(splits.train_y)),
        "early_stopping": early_stopping_block(loop, recipe),
        "dataset": dataset_block(config, splits),
        "model": {**model, "trained_weights_sha256": weights_sha256(adapter, built)},
        "pretrained": built.pretrained,
        "initialisation": built.initialisation,  # a data-dependent initialisation (whitening), if the recipe has one
        "settings": settings,
        "epochs": epochs,
        "processes": loop.processes,
        "timing": timing,
        "time_to_accuracy": time_to_accuracy(
            epochs, config.target_accuracy or TARGET_ACCURACY.get(dataset.name), timing["epoch_median_s"]
        ),
        "compute": compute(forward_flops, len(splits.train_y), timing["epoch_median_s"], settings),
        "memory": memory_block(rss.peak_bytes, adapter),
        "test": block(blocks.TestScores, **test_scores) if test_scores else None,  # None for a search's candidate
        "inference": serving_block(adapter, built, state, splits.train_x),
    }


def early_stopping_block(loop: EpochLoop, recipe) -> dict:
    """Where early stopping ended training and the epoch whose weights it put back (None: it did not)."""
    stopped = len(loop.epochs) < recipe.epochs
    return block(
        blocks.EarlyStop, stopped_after_epoch=len(loop.epochs) if stopped else None, restored_epoch=loop.restored_epoch
    )


def trial_splits(config: TrialConfig, recipe) -> cifar.Splits:
    """The trial's data, split; a search's candidate's test split is dropped before the model exists."""
    dataset = cifar.load(config.dataset, config.data_dir, config.offline, config.image_size)
    splits = cifar.split(dataset, config.val_size, config.train_subset, test_subset=config.test_subset)
    if not config.scores_test:
        splits = replace(splits, test_x=None, test_y=None)
    if (recipe.plateau or recipe.early_stopping) and not len(splits.val_y):
        raise BenchError(f"recipe {recipe.name} watches validation figures: --val-size must be > 0")
    return splits


def serving_block(adapter, built: Built, state, images: np.ndarray) -> dict:
    """The trained model served as deployed (bench.measure.inference), with the foreign load meanwhile."""
    with ForeignLoad() as load:
        served = inference.measure(
            lambda batch: adapter.serve(built.model, state, batch), images[: inference.LADDER[0]], adapter.is_oom
        )
    return block(blocks.Inference, path=adapter.serving_path(), foreign_cpu_cores=load.cores, **served)


def weights_sha256(adapter, built: Built) -> str:
    """The sha256 of every weight of the model as it is now, in torch's layout and float32, by layer and tensor
    name: two trials that end with equal weights have equal hashes, in either framework's run."""
    digest = hashlib.sha256()
    for layer, tensors in sorted(adapter.export_weights(built.model, built.layer_list).items()):
        for name, array in sorted(tensors.items()):
            digest.update(f"{layer}.{name}".encode())
            digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    return digest.hexdigest()


def memory_block(peak_rss_bytes: int, adapter) -> dict:
    """The trial's peak host memory (what it measures, said) and its device's, where the framework counts it."""
    measures = "host resident set of the trial process, sampled every 50 ms during training and evaluation"
    return block(
        blocks.Memory, peak_rss_bytes=peak_rss_bytes, peak_rss_measures=measures, **adapter.peak_device_memory()
    )


def score_test(config: TrialConfig, recipe, adapter, built: Built, state, splits) -> tuple[dict, float] | None:
    """The test set, scored once (with the recipe's test-time augmentation): its scores and images per second;
    None for a search's candidate, which never sees it."""
    if not config.scores_test:
        return None
    with SyncedTimer(adapter.synchronize) as test_timer:
        test_logits = tta.predict(
            lambda view: adapter.predict(built.model, state, view), splits.test_x, recipe.test_time_augmentation
        )
    return metrics.scores(test_logits, splits.test_y, splits.dataset.class_names), len(
        splits.test_y
    ) / test_timer.seconds


def budget_block(config: TrialConfig, recipe, train_images: int) -> dict:
    """The trial's budget against its paper's: epochs, training images, and whether it is the paper's own."""
    paper_epochs = get_recipe(config.recipe).epochs
    full = config.train_subset is None
    return block(
        blocks.Budget,
        epochs=recipe.epochs,
        paper_epochs=paper_epochs,
        train_images=train_images,
        full_training_set=full,
        matches_paper=(
            recipe.paper is not None
            and not recipe.deviations
            and recipe.epochs == paper_epochs
            and full
            and config.test_subset is None
        ),
        note=config.note,
    )


def dataset_block(config: TrialConfig, splits) -> dict:
    """Which data the trial saw: the copy, its classes, and the split's sizes and seed."""
    dataset = splits.dataset
    return block(
        blocks.Dataset,
        name=dataset.name,
        label=dataset.label,
        source=dataset.source,
        sha256=dataset.sha256,
        images_sha256=dataset.images_sha256,
        num_classes=dataset.num_classes,
        class_names=list(dataset.class_names),
        train_size=len(splits.train_y),
        val_size=len(splits.val_y),
        test_size=len(splits.test_y) if config.scores_test else 0,
        split_seed=cifar.SPLIT_SEED,
    )


def model_block(model: str, params: tuple[int, int], forward_flops: int) -> dict:
    """The model as built: its paper, description, parameters (as the framework counts them) and FLOPs."""
    spec = registry.spec(model)
    trainable, non_trainable = params
    return block(
        blocks.Model,
        paper=spec.paper,
        description=spec.description,
        params_trainable=trainable,
        params_non_trainable=non_trainable,
        forward_flops_per_image=forward_flops,
    )


def build(config: TrialConfig, recipe, adapter, num_classes: int, train_x: np.ndarray, mean, std) -> Built:
    """The trial's model: built from its layer list, initialised as asked, with the weights file loaded and
    the first conv whitened where the recipe says so."""
    layer_list = registry.layers(config.model, num_classes, resize=recipe.resize)
    input_shape = train_x.shape[1:]
    model = adapter.build(layer_list, config.model, input_shape)
    own_init = config.own_init()
    if config.init != "native":
        adapter.initialise(model, config.init, config.seed)
    elif own_init:  # the model's own scheme (torchvision's), the same weights in every framework
        adapter.load_weights(model, layer_list, initial_weights(layer_list, input_shape, own_init, config.seed))
    pretrained, loaded = None, set()
    if config.weights:
        weights, skipped = read_torchvision(config.weights, layers.torch_tensor_shapes(layer_list, input_shape))
        adapter.load_weights(model, layer_list, weights)
        loaded = set(weights)
        pretrained = {
            "path": portable(config.weights),
            "sha256": file_sha256(config.weights),
            "layers_loaded": len(weights),
            "layers_left_initialised": skipped,
            "phases": [],
        }
    kept_frozen = set()
    initialisation = {"spec_init": own_init} if own_init else None
    if recipe.whiten_first_conv:  # airbench's whitening: computed from the training images, then frozen
        first = whitening.first_conv(layer_list)
        adapter.load_weights(model, layer_list, {first.name: whitening.whitening_weights(first, train_x, mean, std)})
        kept_frozen = {first.name}
        initialisation = {**(initialisation or {}), "whitened": first.name, "frozen": [first.name]}
    return Built(layer_list, model, pretrained, loaded, kept_frozen, initialisation)


def prepare(adapter, built: Built, recipe, splits, normalisation: tuple, seed: int):
    """The training state (the adapter's), with the layers kept frozen throughout (airbench's whitened conv)
    frozen."""
    class_weights = recipe.class_weight_vector(splits.dataset.class_names)
    mean, std = normalisation
    state = adapter.prepare(built.model, recipe, splits.train_x, splits.train_y, mean, std, seed, class_weights)
    if built.kept_frozen:
        adapter.freeze(built.model, state, built.kept_frozen)
    return state


def validate(adapter, built: Built, state, splits) -> dict:
    """An epoch's validation figures: loss, accuracy and the time scoring the validation split took."""
    with SyncedTimer(adapter.synchronize) as eval_timer:
        val_logits = adapter.predict(built.model, state, splits.val_x)
    return {
        "val_loss": metrics.cross_entropy(val_logits, splits.val_y),
        "val_accuracy": metrics.accuracy(val_logits, splits.val_y),
        "eval_time_s": eval_timer.seconds,
    }


@dataclass
class EpochLoop:
    """What the epochs carry from one to the next, all of it in the trial's checkpoint: the order generator,
    the schedule's controls, the epochs' records, early stopping's best weights, and the processes that ran
    them (a trial resumed from its checkpoint ran in several)."""

    order_rng: np.random.Generator
    control: TrainingControl
    epochs: list[dict]
    processes: list[dict]
    best_weights: Any = None
    stopped: bool = False  # early stopping ended training

    @property
    def restored_epoch(self) -> int | None:
        """The epoch whose weights early stopping put back at the end, or None."""
        return self.control.best_epoch if self.best_weights is not None else None


def train(
    config: TrialConfig,
    recipe,
    adapter,
    built: Built,
    state,
    splits,
    emit: Callable[[dict], None],
    validation=validate,
    checkpoints: Checkpoints | None = None,
    started: float | None = None,
) -> EpochLoop:
    """The epochs: a seeded order of the training images each, the synced epoch time, validation after it
    (never inside the epoch time), the schedule's controls and early stopping; with `checkpoints`, each
    finished epoch is saved and a killed trial goes on from its last one. Returns the loop's end state, with
    early stopping's best weights put back into the model.

    `validation(adapter, built, state, splits)` gives each epoch's validation figures (the long-run tests
    script them, so that both frameworks see the same). `started` (perf_counter) is when this process began
    the trial: the start-up time until its first epoch is recorded apart from the epochs."""
    loop = start_loop(config, recipe, adapter, built, state, splits, checkpoints, emit)
    process = {"process": len(loop.processes) + 1, "first_epoch": len(loop.epochs) + 1, "last_epoch": None}
    process["startup_s"] = time.perf_counter() - started if started is not None else None
    process["machine"] = this_machine()  # a trial resumed elsewhere: its epochs' times are of two machines
    epochs_left = range(len(loop.epochs) + 1, recipe.epochs + 1 if not loop.stopped else 0)
    if epochs_left:  # none where it was killed while being scored: its epochs' processes are all there are
        loop.processes.append(process)
    for epoch in epochs_left:
        if built.pretrained and recipe.freeze_epochs and epoch in (1, recipe.freeze_epochs + 1):
            enter_phase(epoch, recipe, adapter, built, state)
        record, loop.stopped = run_epoch(epoch, loop, recipe, adapter, built, state, splits, validation)
        loop.epochs.append({**record, "process": process["process"], "machine": process["machine"]})
        process["last_epoch"] = epoch
        emit({"event": "epoch", **loop.epochs[-1]})
        failpoints.check(epoch)  # before the checkpoint: a fault there loses the epoch, the worst case
        if checkpoints:
            save_checkpoint(checkpoints, config.trial_id, loop, adapter, built, state)
        if loop.stopped:
            break
    if loop.best_weights is not None:
        adapter.restore(built.model, loop.best_weights)  # early stopping's best epoch, chosen on validation
    return loop


def run_epoch(epoch: int, loop: EpochLoop, recipe, adapter, built: Built, state, splits, validation):
    """One epoch, timed, then its validation and the controls' decisions: (its record, stop now)."""
    order = loop.order_rng.permutation(len(splits.train_y))
    learning_rates = loop.control.learning_rates(epoch - 1)
    with ForeignLoad() as load, SyncedTimer(adapter.synchronize) as train_timer:
        stats = adapter.train_epoch(built.model, state, order, learning_rates)
    if not math.isfinite(stats.loss):
        raise Diverged(f"training loss is {stats.loss} in epoch {epoch}")
    record = {
        "epoch": epoch,
        "train_loss": stats.loss,
        "train_accuracy": stats.accuracy,
        "learning_rate": stats.learning_rate,
        "epoch_time_s": train_timer.seconds,
        "images_per_s": len(splits.train_y) / train_timer.seconds,
        "foreign_cpu_cores": round(load.cores, 3),
        "own_cpu_cores": round(load.own_cores, 3),
    }
    if len(splits.val_y):
        record.update(validation(adapter, built, state, splits))
    is_best, stop = loop.control.after_epoch(epoch, record.get("val_loss"), record.get("val_accuracy"))
    if is_best and recipe.early_stopping.restore_best:
        loop.best_weights = adapter.snapshot(built.model)
    return record, stop


def start_loop(config, recipe, adapter, built: Built, state, splits, checkpoints, emit) -> EpochLoop:
    """The loop's state before its first epoch here: fresh, or the trial's checkpoint put back (announced
    with a `resumed` event holding the epochs it brings)."""
    steps_per_epoch = math.ceil(len(splits.train_y) / recipe.batch_size)
    loop = EpochLoop(np.random.default_rng(config.seed), TrainingControl(recipe, steps_per_epoch), [], [])
    saved = checkpoints.load(config.trial_id) if checkpoints else None
    if saved is None:
        return loop
    harness, folder = saved
    loop.order_rng.bit_generator.state = harness["order_rng"]
    loop.control.load_state(harness["control"])
    loop.epochs, loop.processes, loop.stopped = harness["epochs"], harness["processes"], harness["stopped"]
    if built.pretrained is not None:
        built.pretrained["phases"] = harness["phases"]
        if recipe.freeze_epochs:  # the optimizer of the last finished epoch's phase, to take its saved state
            frozen = built.loaded if len(loop.epochs) <= recipe.freeze_epochs else set()
            adapter.freeze(built.model, state, frozen | built.kept_frozen)
    loop.best_weights = adapter.load_checkpoint(built.model, state, folder)
    emit({"event": "resumed", "epochs": loop.epochs})
    return loop


def save_checkpoint(checkpoints: Checkpoints, trial_id: str, loop: EpochLoop, adapter, built: Built, state) -> None:
    """The finished epoch's checkpoint: the loop's state and the framework's (bench.run.checkpoints)."""
    harness = {
        "format": CHECKPOINT_FORMAT,
        "trial_id": trial_id,
        "epochs": loop.epochs,
        "processes": loop.processes,
        "stopped": loop.stopped,
        "order_rng": loop.order_rng.bit_generator.state,
        "control": loop.control.state(),
        "phases": built.pretrained["phases"] if built.pretrained else None,
    }
    checkpoints.save(
        len(loop.epochs),
        harness,
        lambda folder: adapter.save_checkpoint(built.model, state, folder, loop.best_weights),
    )


def enter_phase(epoch: int, recipe, adapter, built: Built, state) -> None:
    """Fine-tuning's phases: the loaded layers frozen from epoch 1, then none after the recipe's freeze epochs;
    each phase is noted in the record with its trainable parameters and learning-rate scale."""
    frozen = (built.loaded if epoch == 1 else set()) | built.kept_frozen
    adapter.freeze(built.model, state, frozen)
    built.pretrained["phases"].append(
        {
            "from_epoch": epoch,
            "frozen_layers": len(frozen),
            "params_trainable": adapter.count_params(built.model)[0],
            "learning_rate_scale": 1.0 if frozen else recipe.unfrozen_lr_scale,
        }
    )


def phase_timing(pretrained: dict | None, epochs: list[dict], images: int) -> dict:
    """The row's timing summary from its steady epochs (bench.measure.timing.steady_epochs: each process's first
    epoch warms up, and only the last machine's epochs count).
    Fine-tuning: each phase is its own workload (and keras re-traces at its start); the row's timing is the
    last phase's, where every layer trains, and each phase keeps its own epoch times."""
    epoch_seconds = [epoch["epoch_time_s"] for epoch in epochs]
    phases = (pretrained or {}).get("phases", [])
    starts = [phase["from_epoch"] for phase in phases]
    for phase, end in zip(phases, starts[1:] + [len(epoch_seconds) + 1]):
        phase["epoch_times_s"] = epoch_seconds[phase["from_epoch"] - 1 : end - 1]
    last = starts[-1] - 1 if starts else 0
    # The last phase's epochs on the last machine; the first of them, and each process's first, warm up.
    timed = [i for i, here in enumerate(on_last_machine(epochs)) if here and i >= last]
    steady = steady_epochs(epochs)
    warm_up = [i == timed[0] or not steady[i] for i in timed]
    return summarise_epochs([epoch_seconds[i] for i in timed], images, warm_up)


def time_to_accuracy(epochs: list[dict], target: float | None, epoch_median_s: float | None = None) -> dict:
    """When validation accuracy first reached `target` (DAWNBench's metric, on validation, not test).

    `train_seconds` sums the training epochs up to then; `wall_seconds` adds their evaluations. An epoch that
    ran on another machine (a trial resumed elsewhere) counts at this machine's steady epoch time
    (`epoch_median_s`), so the figure is the machine's the row names.
    """
    train_seconds = wall_seconds = 0.0
    for record, here in zip(epochs, on_last_machine(epochs)):
        seconds = record["epoch_time_s"] if here or epoch_median_s is None else epoch_median_s
        train_seconds += seconds
        wall_seconds += seconds + record.get("eval_time_s", 0.0)
        if target is not None and record.get("val_accuracy", 0.0) >= target:
            return block(
                blocks.TimeToAccuracy,
                target=target,
                epoch=record["epoch"],
                train_seconds=train_seconds,
                wall_seconds=wall_seconds,
            )
    return block(blocks.TimeToAccuracy, target=target, epoch=None, train_seconds=None, wall_seconds=None)


def compute(forward_flops: int, images: int, epoch_seconds: float, settings: dict) -> dict:
    """Training FLOPs per epoch (forward + backward ~ 3x forward), achieved FLOP/s, share of peak."""
    train_flops = 3 * forward_flops * images
    achieved = train_flops / epoch_seconds
    precision = settings.get("precision", "float32")
    if precision == "float32" and settings.get("tf32_matmul"):
        precision = "tf32"
    peak = peak_flops.peak_tflops(settings.get("device_name"), precision)
    return block(
        blocks.Compute,
        train_flops_per_epoch=train_flops,
        achieved_tflops=achieved / 1e12,
        peak_tflops=peak,
        share_of_peak=achieved / (peak * 1e12) if peak else None,
        precision_for_peak=precision,
    )

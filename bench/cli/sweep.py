"""What `run` and `tune` share before anything trains: the device, the executor, the trials (frameworks missing
here skipped, each with its reason), each framework's view of the device, and the data checks. Every refusal
comes before a folder is made or a trial starts."""

from __future__ import annotations

import os
from dataclasses import replace

from bench.data import cifar
from bench.errors import BenchError
from bench.spec import layers, registry

DEVICES = ("cpu", "cuda")


def check_device(device: str) -> None:
    """The device name; whether each framework sees that device is probed once trials are known."""
    if device not in DEVICES:
        raise BenchError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")


def prepare(args, entries, frameworks, batch_sizes, seeds, **options) -> tuple[list, list[str], object]:
    """The trials of `entries` x `frameworks` x `batch_sizes` x `seeds` (with `options`, see bench.run.expansion), the
    lines of those skipped, and the executor; refused where nothing would run or a framework sees no device."""
    from bench.run.devices import check_devices
    from bench.run.executors import make_executor
    from bench.run.expansion import expand

    check_device(args.device)
    executor = make_executor(args.executor, args.ray_address, args.max_parallel)
    trials, skipped = expand(
        entries,
        frameworks,
        args.device,
        batch_sizes,
        seeds,
        threads=args.threads or len(os.sched_getaffinity(0)),
        data_dir=args.data_dir,
        offline=args.offline,
        image_size=args.image_size,
        **options,
    )
    if not trials:
        reasons = dict.fromkeys(line.split(": ", 1)[-1] for line in skipped)  # each once, in order
        raise BenchError(f"nothing to run: every trial is skipped ({'; '.join(reasons) or 'no trials'})")
    if not (args.executor == "ray" and args.ray_address):  # a cluster's GPUs are checked when Ray connects
        check_devices(trials)
    return trials, skipped, executor


VAL_SHARE = 0.1  # of a training split held out for validation at most, unless asked: CIFAR's own (5,000 of 50,000)


def load_datasets(trials, data_dir, offline: bool) -> dict:
    """Each dataset the trials train on, loaded once, by (dataset, image size)."""
    datasets = {}
    for trial in trials:
        data = (trial.dataset, trial.image_size)
        if data not in datasets:
            datasets[data] = cifar.load(trial.dataset, data_dir, offline, trial.image_size)
    return datasets


def fit_to_data(trials, datasets: dict, given: set[str]) -> tuple[list, list[str]]:
    """Defaults a small dataset cannot take, fitted to it, where no flag set them (`given`: the flags the user
    typed): a validation set over VAL_SHARE of the training split becomes that share; a suite's training or test
    subset larger than what there is uses all of it; a recipe's batch larger than the training images becomes the
    largest power of two that fits. Returns the trials (those fitted alike once) and, for the run's header, one
    line per change. A flag the data cannot take is refused by check_trials."""
    fitted, lines = [], []
    for trial in trials:
        dataset = datasets[(trial.dataset, trial.image_size)]
        changes = _fitted(trial, len(dataset.train_y), len(dataset.test_y), given)
        fitted.append(replace(trial, **changes) if changes else trial)
        if changes:
            said = ", ".join(
                f"{name.replace('_', '-')} {'all' if value is None else value}" for name, value in changes.items()
            )
            lines.append(f"fitted to {len(dataset.train_y)} training images: {trial.label()}: {said}")
    unique = list({trial.trial_id: trial for trial in fitted}.values())  # batches fitted alike: one trial
    return unique, list(dict.fromkeys(lines))


def _fitted(trial, total: int, tests: int, given: set[str]) -> dict:
    """The defaults of one trial that its data cannot take, fitted (see fit_to_data)."""
    changes = {}
    if "val_size" not in given and trial.val_size > VAL_SHARE * total:
        changes["val_size"] = max(1, round(VAL_SHARE * total))
    if "test_subset" not in given and trial.test_subset and trial.test_subset > tests:
        changes["test_subset"] = None
    train = total - changes.get("val_size", trial.val_size)
    if "train_subset" not in given and trial.train_subset and trial.train_subset > train:
        changes["train_subset"] = None
    elif trial.train_subset:
        train = min(train, trial.train_subset)
    if "batch_size" not in given and trial.batch_size > train > 0:
        changes["batch_size"] = 2 ** (train.bit_length() - 1)
    return changes


def check_trials(trials, datasets: dict) -> dict:
    """Refuse, before anything runs, every trial that cannot give a meaningful row: a bad subset size, a batch
    larger than the training set, a recipe that watches validation figures without a validation set, a model
    the images are too small for. Splits each dataset (load_datasets) once per split; returns each trial's."""
    splits, of_trial = {}, {}
    for trial in trials:
        data = (trial.dataset, trial.image_size)
        key = (*data, trial.val_size, trial.train_subset, trial.test_subset)
        if key not in splits:
            splits[key] = cifar.split(datasets[data], trial.val_size, trial.train_subset, test_subset=trial.test_subset)
        of_trial[trial] = splits[key]
        _check_recipe_fits(trial, len(splits[key].train_y))
        _check_input_size(trial, datasets[data])
    return of_trial


def _check_input_size(trial, dataset) -> None:
    """The model can take the dataset's images (its convolutions and pools leave some pixels)."""
    recipe = trial.resolved_recipe()
    layer_list = registry.layers(trial.model, dataset.num_classes, resize=recipe.resize)
    height, width = dataset.train_x.shape[1:3]
    try:
        layers.network_shape(layer_list, dataset.train_x.shape[1:])
    except ValueError as err:
        raise BenchError(
            f"{trial.model} cannot take {height}x{width} images: {err} (choose another --image-size)"
        ) from None


def _check_recipe_fits(trial, train_images: int) -> None:
    """A batch no larger than the training set, weights for a fine-tuning recipe, validation images for a recipe
    that watches them."""
    if trial.batch_size > train_images:
        raise BenchError(
            f"--batch-size {trial.batch_size} is larger than the {train_images} training images "
            f"of {trial.model} (every epoch would be one partial batch)"
        )
    recipe = trial.resolved_recipe()
    if recipe.pretrained and not trial.weights:
        raise BenchError(
            f"recipe {recipe.name} fine-tunes pretrained weights: give --weights PATH (or run a "
            f"transfer suite with --weights-dir)"
        )
    if (recipe.plateau or recipe.early_stopping) and not trial.val_size:
        raise BenchError(
            f"recipe {recipe.name} watches validation figures (plateau or early stopping): --val-size must be > 0"
        )


def tensorboard_dir(args) -> str | None:
    """--tensorboard DIR, or RESULTS/tensorboard for a bare --tensorboard (checked before anything runs)."""
    if args.tensorboard is None:
        return None
    from bench.run.tensorboard_log import check_available

    check_available()
    return args.tensorboard or os.path.join(args.results, "tensorboard")

"""Command line: `python -m bench list | run | tune | report | compare | import | yardstick` (also installed as
`cnnbench`).

Bad input never shows a traceback: it is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path

from tabulate import tabulate

from bench.data import cifar
from bench.errors import BenchError
from bench.frameworks import FRAMEWORKS, missing_framework
from bench.frameworks.base import INITS
from bench.paths import run_folder
from bench.spec import layers, registry
from bench.spec.execution import AMP, COMPILE, EXECUTION_OPTIONS, LOADERS
from bench.spec.recipes import LR_SCALING, RECIPES, get_recipe
from bench.spec.suites import SUITES, Entry, Suite, get_suite

DEVICES = ("cpu", "cuda")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line (no usage dump) and exit code 2."""

    def error(self, message):
        unknown = [word for word in message.removeprefix("unrecognized arguments: ").split() if word.startswith("--")]
        if message.startswith("unrecognized arguments") and unknown:
            close = difflib.get_close_matches(unknown[0].split("=")[0], _option_strings(self), n=1)
            if close:
                message += f" (did you mean {close[0]}?)"
        raise BenchError(message)


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every --option of a parser and of its subcommands."""
    options = []
    for action in parser._actions:
        options += [option for option in action.option_strings if option.startswith("--")]
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                options += _option_strings(subparser)
    return sorted(set(options))


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{text!r} must be an integer >= {minimum}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1)


def non_negative_int(text: str) -> int:
    return _integer(text, 0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def fraction(text: str) -> float:
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a fraction in (0, 1]")
    return value


def _add_trial_options(parser: argparse.ArgumentParser) -> None:
    """Options `run` and `tune` share: device, budget, data, results and executor."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--epochs", type=positive_int, help="training epochs per trial")
    parser.add_argument(
        "--train-subset", type=positive_int, help="train on a class-balanced, seeded subset of N images"
    )
    parser.add_argument(
        "--test-subset",
        type=positive_int,
        help="score a class-balanced, seeded subset of N test images (default: the suite's, or all)",
    )
    parser.add_argument(
        "--val-size",
        type=non_negative_int,
        help=f"validation images held out of the training set (default {cifar.DEFAULT_VAL_SIZE})",
    )
    parser.add_argument("--dataset", help=f"one of {', '.join(cifar.DATASETS)} (default: the suite's, cifar10)")
    parser.add_argument("--data-dir", help="where to look for the dataset first")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never download: refuse when no copy of the dataset "
        "is found (also CNNBENCH_OFFLINE=1; default: download the official archive into the cache)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        help="intra- and inter-op threads, both frameworks (default: the cores available)",
    )
    parser.add_argument("--trial-timeout", type=positive_int, help="seconds before a trial is stopped")
    parser.add_argument(
        "--results",
        help="results directory (default: run, a new folder runs/WHEN, or with --resume the latest one; tune, results)",
    )
    parser.add_argument(
        "--tensorboard",
        nargs="?",
        const="",
        metavar="DIR",
        help="log every trial's epochs and final metrics for TensorBoard in DIR (default: RESULTS/tensorboard)",
    )
    parser.add_argument(
        "--executor",
        default="local",
        help="local (default: one trial after another here) or ray "
        "(trials spread over every GPU of this machine, or a Ray cluster with --ray-address)",
    )
    parser.add_argument("--ray-address", help="a running Ray cluster: auto, or HOST:PORT (default: start Ray here)")
    parser.add_argument("--max-parallel", type=positive_int, help="with --executor ray: trials in flight at most")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    listing = commands.add_parser("list", help="models x frameworks with parameter counts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--markdown", action="store_true", help="the models table of the README")
    listing.add_argument("--suites", action="store_true", help="list the suites instead")
    listing.add_argument(
        "--measured",
        action="store_true",
        help="also build every model in each installed framework and report its own counts",
    )

    run = commands.add_parser("run", help="run a sweep of training trials")
    _add_trial_options(run)
    run.add_argument("--suite", help=f"one of {', '.join(SUITES)} (default: default; gpu with --device cuda)")
    run.add_argument("--model", nargs="+", help="models (default: the suite's)")
    run.add_argument("--framework", nargs="+", help="torch and/or keras (default: the suite's)")
    run.add_argument("--batch-size", nargs="+", type=positive_int, help="one or more batch sizes")
    run.add_argument("--seeds", nargs="+", type=non_negative_int, help="one or more seeds")
    run.add_argument(
        "--lr",
        nargs="+",
        type=positive_float,
        help="one or more learning rates, crossed with batch sizes and seeds (default: the recipe's)",
    )
    run.add_argument("--weights", help="start from a local torchvision-format weights file (e.g. resnet34)")
    run.add_argument(
        "--weights-dir",
        help="where the transfer suites find torchvision's weight files "
        "(default: torch hub's checkpoints folder, where torchvision saves its downloads)",
    )
    run.add_argument("--amp", choices=AMP, help="mixed precision (default: the suite's, off)")
    run.add_argument("--channels-last", action="store_true", default=None, help="torch channels-last memory format")
    run.add_argument("--compile", choices=COMPILE, help="torch.compile mode / keras jit_compile (default: off)")
    run.add_argument("--loader", choices=LOADERS, help="fast (data on the device) or naive (torch DataLoader)")
    run.add_argument(
        "--fused-optimizer",
        action="store_true",
        default=None,
        help="torch: the optimizer's fused kernel, one launch per step (numerics differ slightly)",
    )
    run.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        default=None,
        help="torch: let cuDNN autotune its convolution algorithms (recorded; off by default)",
    )
    run.add_argument(
        "--steps-per-execution",
        type=positive_int,
        help="keras: training steps per call of the compiled step (default: 1)",
    )
    run.add_argument(
        "--init",
        choices=INITS,
        default="native",
        help="weight initialisation: each framework's own (native), or torch's or keras's on both",
    )
    run.add_argument(
        "--lr-scaling",
        default="none",
        choices=LR_SCALING,
        help="scale the learning rate with batch size / the recipe's batch size (default: none)",
    )
    run.add_argument(
        "--target-accuracy",
        type=fraction,
        help="validation accuracy for time-to-accuracy (default: 0.60 CIFAR-10, 0.30 CIFAR-100)",
    )
    run.add_argument("--recipe", help=f"one of {', '.join(RECIPES)} (default: the suite's, or baseline)")
    run.add_argument(
        "--full-train", action="store_true", help="train on the whole training split even if the suite uses a subset"
    )
    run.add_argument("--resume", action="store_true", help="skip trials that already have a result")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="list the trials, their epochs and images and a rough time estimate (after the "
        "usual checks and, once per machine, the calibration); train nothing",
    )
    run.add_argument(
        "--no-calibration", action="store_true", help="skip timing the fixed calibration workload before the sweep"
    )

    tune = commands.add_parser("tune", help="repeat a report's search with Optuna, one study per framework")
    tune.add_argument("--model", required=True, help="the searched model (r2_tuned_cnn: report r2's search)")
    tune.add_argument("--framework", nargs="+", default=list(FRAMEWORKS), help="torch and/or keras")
    tune.add_argument(
        "--trials",
        type=positive_int,
        required=True,
        help="finished candidates per study (completed, pruned or failed); a re-run continues",
    )
    tune.add_argument(
        "--storage",
        help="Optuna storage: a database URL (e.g. postgresql://...) or a journal "
        "file (default: RESULTS/searches/optuna.journal)",
    )
    tune.add_argument("--study", help="study name prefix (default: model, framework, data and budget)")
    tune.add_argument("--seed", type=non_negative_int, default=0, help="the trials' seed and the sampler's")
    _add_trial_options(tune)

    compare = commands.add_parser("compare", help="noise-aware regression table between two result sets")
    compare.add_argument("old", help="results directory of the baseline")
    compare.add_argument("new", help="results directory to judge")
    compare.add_argument(
        "--threshold",
        type=positive_float,
        default=1.10,
        help="epoch-time ratio that counts as a change, when beyond noise (default 1.10)",
    )
    compare.add_argument("--json", action="store_true", help="machine-readable output (one object per row)")
    yardstick = commands.add_parser(
        "yardstick",
        help="run the airbench package's airbench94 as it runs itself "
        "(CUDA only; pip install 'cnnbench[yardstick]'), one record per seed",
    )
    yardstick.add_argument(
        "--seeds",
        nargs="+",
        type=non_negative_int,
        default=[0, 1, 2, 3, 4],
        help="one run per seed (default: 0 1 2 3 4)",
    )
    yardstick.add_argument("--data-dir", help="where CIFAR-10 is (default: the usual lookup, see README)")
    yardstick.add_argument("--results", default="results", help="results directory (default: results)")
    report = commands.add_parser("report", help="write DIR/leaderboard.md from DIR/raw/*.json")
    report.add_argument("--results", default="results", help="results directory (default: results)")
    importing = commands.add_parser(
        "import",
        help="copy another run's raw and calibration files (a results "
        "directory or a .tar.gz such as .ci/gpu-run packs) into a results directory",
    )
    importing.add_argument("source", help="results directory or archive to import from")
    importing.add_argument("--results", default="results", help="results directory (default: results)")
    return parser


def command_list(args) -> int:
    if args.suites:
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "name": suite.name,
                            "description": suite.description,
                            "frameworks": list(suite.frameworks),
                            "seeds": list(suite.seeds),
                            "trials_per_framework": len(suite.entries) * len(suite.seeds),
                        }
                        for suite in SUITES.values()
                    ],
                    indent=2,
                )
            )
        else:
            print(tabulate([(suite.name, suite.description) for suite in SUITES.values()], tablefmt="plain"))
        return 0
    rows = []
    for name in registry.model_names():
        spec = registry.spec(name)
        trainable, frozen = layers.count_params(registry.layers(name, 10))
        described = "".join(f", {key}={value}" for key, value in registry.options(name).items())
        rows.append(
            {
                "model": name,
                "paper": spec.PAPER,
                "description": spec.DESCRIPTION + described,
                "interpretation": spec.INTERPRETATION,
                "params_trainable": trainable,
                "params_non_trainable": frozen,
                "forward_mflops": round(layers.forward_flops(registry.layers(name, 10)) / 1e6, 2),
                "classes": [10, 100],
                "frameworks": {fw: missing_framework(fw) or "available" for fw in FRAMEWORKS},
            }
        )
    if args.measured:
        for framework in FRAMEWORKS:
            counts = _measured_counts(framework)
            for row in rows:
                row.setdefault("params_measured", {})[framework] = counts.get(row["model"]) if counts else None
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.markdown:
        print(models_markdown(rows))
        return 0
    table = [
        (
            row["model"],
            row["paper"],
            f"{row['params_trainable'] + row['params_non_trainable']:,}",
            f"{row['forward_mflops']:.1f}",
            ", ".join(
                fw if state == "available" else f"{fw} (skipped: {state})" for fw, state in row["frameworks"].items()
            ),
        )
        for row in rows
    ]
    print(
        tabulate(
            table,
            headers=["model", "paper", "params", "MFLOPs", "frameworks"],
            tablefmt="plain",
            disable_numparse=True,
            colalign=("left", "left", "right", "right", "left"),
        )
    )
    return 0


def _measured_counts(framework: str) -> dict | None:
    """Parameter counts as `framework` builds the models (in a subprocess), or None if it is missing."""
    import subprocess

    if missing_framework(framework):
        return None
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.measure.inspect_models", framework],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if completed.returncode != 0:
        raise BenchError(f"building the models in {framework} failed: {completed.stderr.strip().splitlines()[-1]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def models_markdown(rows: list[dict]) -> str:
    """The README's models table, generated from the registry (`python -m bench list --markdown`)."""
    lines = ["| model | paper | description | params (10 classes) | forward MFLOPs/image |", "|:--|:--|:--|--:|--:|"]
    for row in rows:
        params = row["params_trainable"] + row["params_non_trainable"]
        lines.append(
            f"| `{row['model']}` | {row['paper']} | {row['description']} | {params:,} | {row['forward_mflops']:.1f} |"
        )
    return "\n".join(lines)


def _check_device(device: str) -> None:
    """The device name; whether each framework sees that device is probed once trials are known."""
    if device not in DEVICES:
        raise BenchError(f"unknown device {device!r}; choose from {', '.join(DEVICES)}")


def resolve_suite(args) -> tuple[Suite, list[Entry]]:
    """The suite (default: `default`, or `gpu` with --device cuda) and its entries with the command line's overrides.

    `--model` with a named `--suite` keeps that suite's entries for those models (their recipe, budget and
    notes); without `--suite` it runs each model with the baseline recipe and its full budget.
    """
    suite = get_suite(args.suite or ("gpu" if args.device == "cuda" else "default"))
    if args.model and args.suite:
        in_suite = {entry.model for entry in suite.entries}
        for model in args.model:
            registry.parse(model)
            if model not in in_suite:
                raise BenchError(
                    f"model {model!r} is not in suite {suite.name!r}; leave out --suite to run it "
                    f"with the baseline recipe"
                )
        entries = [entry for entry in suite.entries if entry.model in args.model]
    elif args.model:
        entries = [Entry(model) for model in args.model]
    else:
        entries = list(suite.entries)
    overrides = {
        "recipe": args.recipe,
        "dataset": args.dataset,
        "epochs": args.epochs,
        "train_subset": args.train_subset,
        "test_subset": args.test_subset,
        "val_size": args.val_size,
        "target_accuracy": args.target_accuracy,
    }
    speed = {option: getattr(args, option) for option in EXECUTION_OPTIONS if getattr(args, option) is not None}
    entries = [
        replace(
            entry, **{k: v for k, v in overrides.items() if v is not None}, execution=replace(entry.execution, **speed)
        )
        for entry in entries
    ]
    if args.full_train:
        entries = [replace(entry, train_subset=None) for entry in entries]
    for entry in entries:
        registry.parse(entry.model)
        get_recipe(entry.recipe)
    return suite, entries


GPU_SUITES = ("gpu", "gpu-smoke", "common-gpu", "reports-gpu", "reports", "common", "yardstick", "gpu-speed")


def check_trials(trials, data_dir, offline: bool) -> dict:
    """Refuse, before anything runs, every trial that cannot give a meaningful row: a missing or corrupt
    dataset, a bad subset size, a batch larger than the training set, a recipe that watches validation
    figures without a validation set. Loads and splits each dataset once; returns each trial's split."""
    datasets, splits, of_trial = {}, {}, {}
    for trial in trials:
        if trial.dataset not in datasets:
            datasets[trial.dataset] = cifar.load(trial.dataset, data_dir, offline)
        key = (trial.dataset, trial.val_size, trial.train_subset, trial.test_subset)
        if key not in splits:
            splits[key] = cifar.split(
                datasets[trial.dataset], trial.val_size, trial.train_subset, test_subset=trial.test_subset
            )
        of_trial[trial] = splits[key]
        train_images = len(splits[key].train_y)
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
    return of_trial


def duration(seconds: float) -> str:
    """A rough duration as people say it: `~4 min`, `~2.5 h`."""
    return f"~{seconds / 60:.0f} min" if seconds < 2 * 3600 else f"~{seconds / 3600:.1f} h"


def dry_run(trials, splits: dict, calibrations: dict) -> None:
    """What a sweep would run and roughly how long it would take on this machine (see calibration)."""
    from bench.measure.calibration import TRIAL_OVERHEAD_S, estimate_seconds

    rows, total = [], 0.0
    for trial in trials:
        split = splits[trial]
        calibration = calibrations.get((trial.framework, trial.keras_backend, trial.device, trial.threads))
        flops = layers.forward_flops(registry.layers(trial.model, split.dataset.num_classes))
        seconds = (
            estimate_seconds(calibration, flops, trial.epochs, len(split.train_y), len(split.val_y), len(split.test_y))
            if calibration
            else None
        )
        total += seconds or 0.0
        rows.append(
            (
                trial.label(),
                trial.recipe,
                trial.epochs,
                len(split.train_y),
                len(split.val_y),
                len(split.test_y),
                f"{seconds / 60:.1f}" if seconds else "?",
            )
        )
    print(
        tabulate(
            rows,
            headers=["trial", "recipe", "epochs", "train", "val", "test", "est. min"],
            tablefmt="plain",
            disable_numparse=True,
        )
    )
    print(
        f"{len(trials)} trials, {sum(t.epochs for t in trials)} epochs; roughly {duration(total)} "
        f"on this machine (each trial's FLOPs at the calibrated convolution rate plus {TRIAL_OVERHEAD_S:.0f} s "
        f"of start-up: a lower bound; '?' where calibration failed)"
    )


def warnings_for(device: str, suite: Suite, trials) -> list[str]:
    """Rows that are legal but probably not what was meant."""
    lines = []
    if device == "cpu" and suite.name in GPU_SUITES:
        lines.append(f"suite {suite.name} is meant for a GPU; on this CPU it will take very long")
    speed = sorted(
        {
            t.execution.label()
            for t in trials
            if t.execution.amp != "off"
            or t.execution.compile != "off"
            or t.execution.channels_last
            or t.execution.cudnn_benchmark
        }
    )
    if device == "cpu" and speed:
        lines.append(
            f"speed options {', '.join(speed)} are for GPUs; on a CPU they are usually slower than the plain fast path"
        )
    return lines


def tensorboard_dir(args) -> str | None:
    """--tensorboard DIR, or RESULTS/tensorboard for a bare --tensorboard (checked before anything runs)."""
    if args.tensorboard is None:
        return None
    from bench.run.tensorboard_log import check_available

    check_available()
    return args.tensorboard or os.path.join(args.results, "tensorboard")


def command_run(args) -> int:
    from bench.measure import provenance
    from bench.results import store
    from bench.run import runner

    suite, entries = resolve_suite(args)
    frameworks = args.framework or list(suite.frameworks)
    _check_device(args.device)
    for framework in frameworks:
        missing_framework(framework, args.device)
    from bench.run.executors import make_executor

    executor = make_executor(args.executor, args.ray_address, args.max_parallel)
    args.results = args.results or run_folder(args.resume)
    if args.weights:
        from bench.data.pretrained import check_exists

        check_exists(args.weights)
    if args.weights_dir and not os.path.isdir(args.weights_dir):
        raise BenchError(f"--weights-dir {args.weights_dir} is not a directory")
    trials, skipped = runner.expand(
        entries,
        frameworks,
        args.device,
        args.batch_size or list(suite.batch_sizes),
        args.seeds if args.seeds is not None else list(suite.seeds),
        learning_rates=args.lr or list(suite.learning_rates),
        lr_scaling=args.lr_scaling,
        weights=args.weights,
        weights_dir=args.weights_dir,
        init=args.init,
        threads=args.threads or len(os.sched_getaffinity(0)),
        data_dir=args.data_dir,
        offline=args.offline,
    )
    if not trials:
        reasons = dict.fromkeys(line.split(": ", 1)[-1] for line in skipped)  # each once, in order
        raise BenchError(f"nothing to run: every trial is skipped ({'; '.join(reasons) or 'no trials'})")
    if not (args.executor == "ray" and args.ray_address):  # a cluster's GPUs are checked when Ray connects
        runner.check_devices(trials)
    splits = check_trials(trials, args.data_dir, args.offline)
    for line in warnings_for(args.device, suite, trials):
        print(f"warning: {line}", file=sys.stderr)
    for line in skipped:
        print(line, file=sys.stderr)
    if args.dry_run:
        dry_run(trials, splits, runner.calibrate(trials, None, provenance.collect(sys.argv)))
        return 0
    store.ensure_writable(args.results)  # only now: a refused sweep leaves no folder behind
    print(
        f"results: {args.results} (its leaderboard: python -m bench report --results {args.results})", file=sys.stderr
    )
    summary = runner.run_sweep(
        trials,
        args.results,
        args.resume,
        args.trial_timeout,
        provenance.collect(sys.argv),
        calibration=not args.no_calibration,
        executor=executor,
        tensorboard_dir=tensorboard_dir(args),
    )
    print(summary.line(), file=sys.stderr)
    return 130 if summary.interrupted else 0


def command_tune(args) -> int:
    from bench.measure import provenance
    from bench.results import store
    from bench.run import runner, tune
    from bench.run.executors import make_executor
    from bench.spec.searches import search_for

    space = search_for(args.model)
    _check_device(args.device)
    for framework in args.framework:
        reason = missing_framework(framework, args.device)
        if reason:
            raise BenchError(f"cannot tune in {framework}: {reason}")
    if args.val_size == 0:
        raise BenchError("a search selects on validation accuracy: --val-size must be > 0")
    executor = make_executor(args.executor, args.ray_address, args.max_parallel)
    args.results = args.results or "results"
    store.ensure_writable(args.results)
    # The trial each candidate derives from: the search's model and recipe at the recipe's batch size.
    budget = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "train_subset": args.train_subset,
        "test_subset": args.test_subset,
        "val_size": args.val_size,
    }
    entry = Entry(space.model, space.recipe, **{k: v for k, v in budget.items() if v is not None})
    bases, skipped = runner.expand(
        [entry],
        args.framework,
        args.device,
        None,
        [args.seed],
        threads=args.threads or len(os.sched_getaffinity(0)),
        data_dir=args.data_dir,
        offline=args.offline,
    )
    if skipped:
        raise BenchError(f"cannot tune {skipped[0].removeprefix('skipped ')}")
    if not (args.executor == "ray" and args.ray_address):
        runner.check_devices(bases)
    # The search chooses the batch size: the data is checked at batch 1 here, against the largest batch below.
    splits = check_trials([replace(base, batch_size=1) for base in bases], args.data_dir, args.offline)
    train_images = min(len(split.train_y) for split in splits.values())
    largest_batch = max(space.parameters["batch_size"].values)
    if largest_batch > train_images:
        raise BenchError(
            f"the search's batch sizes reach {largest_batch}, more than the {train_images} training "
            f"images: raise --train-subset"
        )
    storage = tune.storage_for(args.storage, args.results)
    options = {
        "trial_timeout": args.trial_timeout,
        "provenance": provenance.collect(sys.argv),
        "executor": executor,
        "tensorboard_dir": tensorboard_dir(args),
    }
    interrupted = False
    for base in bases:
        label = f"keras[{base.keras_backend}]" if base.keras_backend else base.framework
        name = f"{args.study}-{label}" if args.study else tune.default_study_name(base, label)
        study = tune.open_study(space, base, name, storage, args.seed)
        outcome = tune.run_study(study, args.trials, args.results, args.max_parallel or 1, options)
        print(tune.result_line(study, args.trials, outcome), file=sys.stderr)
        interrupted = outcome["summary"].interrupted
        if interrupted:
            break
    return 130 if interrupted else 0


def _reading_results(directories: list[str], function, *args):
    """Call `function(*args)` on existing results directories; files it skipped are warned about on stderr."""
    for directory in directories:
        if not os.path.isdir(directory):
            raise BenchError(f"results directory {directory} does not exist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return result


def command_report(args) -> int:
    from bench.report import leaderboard

    path = _reading_results([args.results], leaderboard.write_leaderboard, args.results)
    print(f"wrote {path}")
    return 0


def command_compare(args) -> int:
    from bench.report import compare

    table = _reading_results([args.old, args.new], compare.compare, args.old, args.new, args.threshold)
    if table.empty:
        raise BenchError("the two result sets have no configuration in common")
    print(table.to_json(orient="records", indent=1) if args.json else table.to_markdown(index=False))
    if compare.has_regression(table):
        print("regression: see the rows marked slower or worse", file=sys.stderr)
        return 1
    return 0


def command_yardstick(args) -> int:
    from bench.run import yardstick

    yardstick.check_available()
    with tempfile.TemporaryDirectory(prefix="cnnbench-airbench-") as scratch:
        for record in yardstick.run(args.data_dir, args.results, args.seeds, Path(scratch)):
            print(yardstick.result_line(record))
    return 0


def command_import(args) -> int:
    from bench.results import store

    imported, present = store.import_results(args.source, args.results)
    print(
        f"imported {len(imported)} files into {args.results}"
        + (f" ({len(present)} already there, left alone)" if present else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {
            "list": command_list,
            "run": command_run,
            "tune": command_tune,
            "report": command_report,
            "compare": command_compare,
            "import": command_import,
            "yardstick": command_yardstick,
        }[args.command](args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m bench list | head -1`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())

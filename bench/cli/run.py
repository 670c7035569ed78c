"""`python -m bench run`: a sweep of training trials (a suite, or models with the baseline recipe), each in
its own process, one JSON record per trial."""

from __future__ import annotations

import os
import sys
from dataclasses import replace

from tabulate import tabulate

from bench.cli import sweep
from bench.cli.arguments import (
    add_answer_options,
    add_trial_options,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
    reference_folder,
)
from bench.errors import BenchError
from bench.frameworks import FRAMEWORKS
from bench.frameworks.base import INITS
from bench.paths import run_folder
from bench.spec import layers, registry
from bench.spec.execution import AMP, COMPILE, EXECUTION_OPTIONS, LOADERS
from bench.spec.recipes import LR_SCALING, RECIPES, get_recipe
from bench.spec.suites import SUITES, Entry, Suite, get_suite

HELP = "run a sweep of training trials"


def add_arguments(parser) -> None:
    add_trial_options(parser)
    parser.add_argument("--suite", help=f"one of {', '.join(SUITES)} (default: default; gpu with --device cuda)")
    parser.add_argument("--model", nargs="+", help="models (default: the suite's)")
    parser.add_argument("--framework", nargs="+", help=f"{' and/or '.join(FRAMEWORKS)} (default: the suite's)")
    parser.add_argument("--batch-size", nargs="+", type=positive_int, help="one or more batch sizes")
    parser.add_argument("--seeds", nargs="+", type=non_negative_int, help="one or more seeds")
    parser.add_argument(
        "--lr",
        nargs="+",
        type=positive_float,
        help="one or more learning rates, crossed with batch sizes and seeds (default: the recipe's)",
    )
    parser.add_argument("--weights", help="start from a local torchvision-format weights file (e.g. resnet34)")
    parser.add_argument(
        "--weights-dir",
        help="where the transfer suites find torchvision's weight files "
        "(default: torch hub's checkpoints folder, where torchvision saves its downloads)",
    )
    _add_speed_options(parser)
    _add_recipe_options(parser)
    add_answer_options(parser)
    parser.add_argument("--resume", action="store_true", help="skip trials that already have a result")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the trials, their epochs and images and a rough time estimate (after the "
        "usual checks and, once per machine, the calibration); train nothing",
    )
    parser.add_argument(
        "--no-calibration", action="store_true", help="skip timing the fixed calibration workload before the sweep"
    )


def _add_speed_options(parser) -> None:
    """The execution options (bench.spec.execution): precision, memory format, compilation, loader, kernels."""
    parser.add_argument("--amp", choices=AMP, help="mixed precision (default: the suite's, off)")
    parser.add_argument("--channels-last", action="store_true", default=None, help="torch channels-last memory format")
    parser.add_argument("--compile", choices=COMPILE, help="torch.compile mode / keras jit_compile (default: off)")
    parser.add_argument("--loader", choices=LOADERS, help="fast (data on the device) or naive (torch DataLoader)")
    parser.add_argument(
        "--fused-optimizer",
        action="store_true",
        default=None,
        help="torch: the optimizer's fused kernel, one launch per step (numerics differ slightly)",
    )
    parser.add_argument(
        "--cudnn-benchmark",
        action="store_true",
        default=None,
        help="torch: let cuDNN autotune its convolution algorithms (recorded; off by default)",
    )
    parser.add_argument(
        "--steps-per-execution", type=positive_int, help="keras: training steps per call of the compiled step"
    )


def _add_recipe_options(parser) -> None:
    """The recipe, its initialisation, learning-rate scaling and time-to-accuracy target."""
    parser.add_argument("--recipe", help=f"one of {', '.join(RECIPES)} (default: the suite's, or baseline)")
    parser.add_argument(
        "--init",
        choices=INITS,
        default="native",
        help="weight initialisation: the model's own (native: its spec's init, else each framework's default), "
        "or torch's or keras's on both",
    )
    parser.add_argument(
        "--lr-scaling",
        choices=LR_SCALING,
        help="scale the learning rate with batch size / the recipe's batch size (default: the suite's rule, else none)",
    )
    parser.add_argument(
        "--target-accuracy",
        type=fraction,
        help="validation accuracy for time-to-accuracy (default: 0.60 CIFAR-10, 0.30 CIFAR-100)",
    )
    parser.add_argument(
        "--full-train", action="store_true", help="train on the whole training split even if the suite uses a subset"
    )


def run(args) -> int:
    from bench.measure import provenance
    from bench.results import store
    from bench.run import runner
    from bench.run.calibrations import calibrate

    suite, entries = resolve_suite(args)
    args.results = args.results or run_folder(args.resume)
    reference_folder(args.results, args.reference, args.budget)  # the report's options, checked before anything runs
    _check_weights(args)
    trials, skipped, executor = sweep.prepare(
        args,
        entries,
        args.framework or list(suite.frameworks or FRAMEWORKS),
        args.batch_size or list(suite.batch_sizes),
        args.seeds if args.seeds is not None else list(suite.seeds),
        learning_rates=args.lr or list(suite.learning_rates),
        lr_scaling=args.lr_scaling or suite.lr_scaling or "none",
        weights=args.weights,
        weights_dir=args.weights_dir,
        init=args.init,
    )
    trials, splits, fitted = _fitted_and_checked(args, trials)
    tensorboard = sweep.tensorboard_dir(args)
    header = [f"warning: {warning}" for warning in warnings_for(args.device, suite, trials)] + fitted + skipped
    if not args.dry_run:
        store.ensure_writable(args.results)  # only now: a refused sweep leaves no folder behind
    for line in header:  # only now: a refused sweep says its error alone
        print(line, file=sys.stderr)
    if args.dry_run:
        here = provenance.collect(sys.argv)
        done = store.finished_trial_ids(args.results) if args.resume and os.path.isdir(args.results) else set()
        dry_run(trials, splits, calibrate(trials, None, here), _earlier_records(args.results), here, done)
        return 0
    print(f"results: {args.results} (its leaderboard: {report_command(args)})", file=sys.stderr)
    summary = runner.run_sweep(
        trials,
        args.results,
        args.resume,
        args.trial_timeout,
        provenance.collect(sys.argv),
        calibration=not args.no_calibration,
        executor=executor,
        tensorboard_dir=tensorboard,
    )
    print(summary.line(), file=sys.stderr)
    return 130 if summary.interrupted else 0


def _fitted_and_checked(args, trials) -> tuple[list, dict, list[str]]:
    """The trials with the defaults their data cannot take fitted (sweep.fit_to_data; not those the command line
    set), checked (sweep.check_trials): (trials, each one's split, the header's lines saying what was fitted)."""
    given = {
        name for name in ("val_size", "train_subset", "test_subset", "batch_size") if getattr(args, name) is not None
    }
    datasets = sweep.load_datasets(trials, args.data_dir, args.offline)
    trials, fitted = sweep.fit_to_data(trials, datasets, given)
    return trials, sweep.check_trials(trials, datasets), fitted


def report_command(args) -> str:
    """The `bench report` command that writes this run's leaderboard, with the run's answer options."""
    options = [f"--results {args.results}"]
    options += [f"--reference {args.reference}"] if args.reference else []
    options += [f"--budget {args.budget:g}s"] if args.budget else []
    return f"python -m bench report {' '.join(options)}"


def _check_weights(args) -> None:
    """--weights names a readable file; --weights-dir a directory."""
    if args.weights:
        from bench.data.pretrained import check_exists

        check_exists(args.weights)
    if args.weights_dir and not os.path.isdir(args.weights_dir):
        raise BenchError(f"--weights-dir {args.weights_dir} is not a directory")


def resolve_suite(args) -> tuple[Suite, list[Entry]]:
    """The suite (default: `default`, or `gpu` with --device cuda) and its entries with the command line's overrides.

    `--model` with a named `--suite` keeps that suite's entries for those models (their recipe, budget and
    notes); without `--suite` it runs each model with the baseline recipe and its full budget.
    """
    suite = get_suite(args.suite or ("gpu" if args.device == "cuda" else "default"))
    if args.model and args.suite:
        _check_in_suite(args.model, suite)
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
    overrides = {key: value for key, value in overrides.items() if value is not None}
    speed = {option: getattr(args, option) for option in EXECUTION_OPTIONS if getattr(args, option) is not None}
    entries = [replace(entry, **overrides, execution=replace(entry.execution, **speed)) for entry in entries]
    if args.full_train:
        entries = [replace(entry, train_subset=None) for entry in entries]
    for entry in entries:
        registry.parse(entry.model)
        get_recipe(entry.recipe)
    return suite, entries


def _check_in_suite(models: list[str], suite: Suite) -> None:
    """Each of `models` is a model, and one of `suite`'s."""
    in_suite = {entry.model for entry in suite.entries}
    for model in models:
        registry.parse(model)
        if model not in in_suite:
            raise BenchError(
                f"model {model!r} is not in suite {suite.name!r}; leave out --suite to run it with the baseline recipe"
            )


def duration(seconds: float) -> str:
    """A rough duration as people say it: `~4 min`, `~2.5 h`."""
    return f"~{seconds / 60:.0f} min" if seconds < 2 * 3600 else f"~{seconds / 3600:.1f} h"


def _earlier_records(results: str) -> list[dict]:
    """The results a dry run estimates from: those in the sweep's folder and in the project's `results/`."""
    import warnings

    from bench.results import store

    folders = {os.path.realpath(folder) for folder in (results, "results") if os.path.isdir(store.raw_dir(folder))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unreadable file is report's to name, not a dry run's
        return [record for folder in sorted(folders) for record in store.load(folder)]


def dry_run(trials, splits: dict, calibrations: dict, records: list[dict], provenance: dict, done: set[str]) -> None:
    """What a sweep would run and roughly how long it would take on this machine (bench.run.estimates); with
    --resume, the trials that already have a result say so and add nothing."""
    from bench.run.estimates import measured_rates, trial_seconds

    rates = measured_rates(records, provenance)
    rows, total = [], 0.0
    for trial in trials:
        split = splits[trial]
        if trial.trial_id in done:
            rows.append((trial.label(), trial.recipe, trial.epochs, "", "", "", "done", ""))
            continue
        calibration = calibrations.get((trial.framework, trial.backend, trial.device, trial.threads))
        layer_list = registry.layers(trial.model, split.dataset.num_classes, resize=trial.resolved_recipe().resize)
        flops = layers.forward_flops(layer_list, split.train_x.shape[1:])
        sizes = (len(split.train_y), len(split.val_y), len(split.test_y))
        seconds, basis = trial_seconds(trial, sizes, rates, calibration, flops)
        total += seconds or 0.0
        minutes = f"{seconds / 60:.1f}" if seconds else "?"
        rows.append((trial.label(), trial.recipe, trial.epochs, *sizes, minutes, basis))
    headers = ["trial", "recipe", "epochs", "train", "val", "test", "est. min", "from"]
    print(tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True))
    print(
        f"{len(trials)} trials ({len(done & {t.trial_id for t in trials})} done), "
        f"{sum(t.epochs for t in trials if t.trial_id not in done)} epochs to run; roughly {duration(total)} "
        "on this machine "
        "(measured: from earlier trials of the same model, framework, batch size and threads here; scaled: from "
        "other models' trials in that framework here, per FLOP; calibration: the FLOPs at the calibrated "
        "convolution rate, a rough figure; '?' where none is known)"
    )


def warnings_for(device: str, suite: Suite, trials) -> list[str]:
    """Rows that are legal but probably not what was meant: a suite sized for a GPU, or speed options meant for
    GPUs, on a CPU."""
    lines = []
    if device == "cpu" and suite.device == "cuda":
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

"""`python -m bench tune`: a report's search repeated with Optuna, one study per framework; candidates are
selected on validation accuracy, and each study's best is trained again and scored on the test set once."""

from __future__ import annotations

import sys
from dataclasses import replace

from bench.cli import sweep
from bench.cli.arguments import add_trial_options, non_negative_int, positive_int
from bench.errors import BenchError
from bench.frameworks import FRAMEWORKS, missing_framework
from bench.spec.suites import Entry

HELP = "repeat a report's search with Optuna, one study per framework"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, help="the searched model (r2_tuned_cnn: report r2's search)")
    parser.add_argument("--framework", nargs="+", default=list(FRAMEWORKS), help=" and/or ".join(FRAMEWORKS))
    parser.add_argument(
        "--trials",
        type=positive_int,
        required=True,
        help="finished candidates per study (completed, pruned or failed); a re-run continues",
    )
    parser.add_argument(
        "--storage",
        help="Optuna storage: a database URL (e.g. postgresql://...) or a journal "
        "file (default: RESULTS/searches/optuna.journal)",
    )
    parser.add_argument("--study", help="study name prefix (default: model, framework, data and budget)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the trials' seed and the sampler's")
    add_trial_options(parser)


def run(args) -> int:
    from bench.measure import provenance
    from bench.results import store
    from bench.run import tune
    from bench.spec.searches import search_for

    space = search_for(args.model)
    _check_frameworks(args)
    args.results = args.results or "results"
    budget = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "train_subset": args.train_subset,
        "test_subset": args.test_subset,
        "val_size": args.val_size,
    }
    # The trial each candidate derives from: the search's model and recipe at the recipe's batch size.
    entry = Entry(space.model, space.recipe, **{k: v for k, v in budget.items() if v is not None})
    bases, _, executor = sweep.prepare(args, [entry], args.framework, None, [args.seed])
    smallest = [replace(base, batch_size=1) for base in bases]
    _check_batch_sizes(space, sweep.check_trials(smallest, sweep.load_datasets(smallest, args.data_dir, args.offline)))
    options = {
        "trial_timeout": args.trial_timeout,
        "provenance": provenance.collect(sys.argv),
        "executor": executor,
        "tensorboard_dir": sweep.tensorboard_dir(args),
    }
    store.ensure_writable(args.results)  # only now: a refused search leaves no folder behind
    storage = tune.storage_for(args.storage, args.results)
    for base in bases:
        name = f"{args.study}-{base.runtime}" if args.study else tune.default_study_name(base, base.runtime)
        study = tune.open_study(space, base, name, storage, args.seed)
        outcome = tune.run_study(study, args.trials, args.results, args.max_parallel or 1, options)
        print(tune.result_line(study, args.trials, outcome), file=sys.stderr)
        if outcome["summary"].interrupted:
            return 130
    return 0


def _check_frameworks(args) -> None:
    """A known device, every framework there, and a validation set to select on."""
    sweep.check_device(args.device)
    for framework in args.framework:
        reason = missing_framework(framework, args.device)
        if reason:
            raise BenchError(f"cannot tune in {framework}: {reason}")
    if args.val_size == 0:
        raise BenchError("a search selects on validation accuracy: --val-size must be > 0")


def _check_batch_sizes(space, splits: dict) -> None:
    """The search's largest batch fits in the training images (the data was checked at batch 1)."""
    train_images = min(len(split.train_y) for split in splits.values())
    largest_batch = max(space.parameters["batch_size"].values)
    if largest_batch > train_images:
        raise BenchError(
            f"the search's batch sizes reach {largest_batch}, more than the {train_images} training "
            f"images: raise --train-subset"
        )

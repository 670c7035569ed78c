"""Argument parsing shared by the commands: a parser whose errors are one line, value types, and the options
`run` and `tune` share."""

from __future__ import annotations

import argparse
import difflib
import os

from bench.data import cifar
from bench.errors import BenchError


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
    """An integer >= 1, or a usage error."""
    return _integer(text, 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0, or a usage error."""
    return _integer(text, 0)


DURATION_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600}


def duration_seconds(text: str) -> float:
    """A duration such as 20m, 90s, 1.5h or 45 (minutes) in seconds, or a usage error."""
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :] or "m"
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if unit not in DURATION_UNITS or not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 20m, 90s or 1.5h")
    return value * DURATION_UNITS[unit]


def positive_float(text: str) -> float:
    """A finite number > 0, or a usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1], or a usage error."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a fraction in (0, 1]")
    return value


def add_trial_options(parser: argparse.ArgumentParser) -> None:
    """Options `run` and `tune` share: device, budget, data, results and executor."""
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--epochs", type=positive_int, help="training epochs per trial")
    _add_data_options(parser)
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


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    """The data options of `run` and `tune`: which dataset, where, at what size, and the split's subsets."""
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
    parser.add_argument("--data-dir", help="where to look for the dataset first; with --dataset folder, the folder")
    parser.add_argument(
        "--image-size",
        type=positive_int,
        help="resize an image folder's images to N x N (default: their common size, else 32)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never download: refuse when no copy of the dataset "
        "is found (also CNNBENCH_OFFLINE=1; default: download the official archive into the cache)",
    )


def add_answer_options(parser) -> None:
    """--reference and --budget: how a run's leaderboard answers for its machine (bench.report.here)."""
    parser.add_argument(
        "--reference",
        help="converged results measured elsewhere, whose accuracy answers for this run's machine with the times "
        "measured here (default: the project's results/ when reporting another folder; none: leave out)",
    )
    parser.add_argument(
        "--budget",
        type=duration_seconds,
        help="a training-time budget (20m, 90s, 1.5h): name the most accurate part that trains within it here",
    )


def reference_folder(results: str, reference: str | None, budget: float | None) -> str | None:
    """The reference results folder a report of `results` reads: the one named (`none`: none), else the
    project's results/ unless that is the folder reported; BenchError for a folder without results, the
    reported folder itself, or a budget without a reference."""
    from bench.paths import PROJECT_ROOT
    from bench.results.store import raw_dir

    named = reference not in (None, "none")
    folder = reference if named else None if reference == "none" else str(PROJECT_ROOT / "results")
    same = folder and os.path.isdir(folder) and os.path.isdir(results) and os.path.samefile(folder, results)
    if named and not raw_dir(folder).is_dir():
        raise BenchError(f"--reference {reference} is not a results directory (no raw/ in it)")
    if named and same:
        raise BenchError(f"--reference {reference} is the folder being reported: name converged results made elsewhere")
    if folder and (same or not raw_dir(folder).is_dir()):
        folder = None  # the default: reporting the project's results themselves, or a checkout without them
    if budget and folder is None:
        raise BenchError("--budget needs reference results (--reference DIR) to know each part's accuracy")
    return folder

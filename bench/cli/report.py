"""`python -m bench report`: DIR/leaderboard.md (with tables/ and plots/) from DIR/raw/*.json."""

from __future__ import annotations

import os
import sys
import warnings

from bench.cli.arguments import duration_seconds
from bench.errors import BenchError
from bench.paths import PROJECT_ROOT

HELP = "write DIR/leaderboard.md from DIR/raw/*.json"


def add_arguments(parser) -> None:
    parser.add_argument("--results", default="results", help="results directory (default: results)")
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


def reference_folder(results: str, reference: str | None) -> str | None:
    """The reference results folder: the one named (none: no reference), else the project's results/ unless
    that is the folder being reported."""
    if reference == "none":
        return None
    if reference is not None:
        if not os.path.isdir(reference):
            raise BenchError(f"--reference {reference} is not a results directory")
        return reference
    default = PROJECT_ROOT / "results"
    same = os.path.isdir(results) and default.is_dir() and default.samefile(results)
    return None if same or not default.is_dir() else str(default)


def run(args) -> int:
    from bench.report import leaderboard

    reference = reference_folder(args.results, args.reference)
    if args.budget and reference is None:
        raise BenchError("--budget needs reference results (--reference DIR) to know each part's accuracy")
    path = reading_results([args.results], leaderboard.write_leaderboard, args.results, reference, args.budget)
    print(f"wrote {path}")
    return 0


def reading_results(directories: list[str], function, *args):
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

"""`python -m bench report`: DIR/leaderboard.md (with tables/ and plots/) from DIR/raw/*.json."""

from __future__ import annotations

import os
import sys
import warnings

from bench.cli.arguments import add_answer_options, reference_folder
from bench.errors import BenchError

HELP = "write DIR/leaderboard.md from DIR/raw/*.json"


def add_arguments(parser) -> None:
    parser.add_argument("--results", default="results", help="results directory (default: results)")
    add_answer_options(parser)


def run(args) -> int:
    from bench.report import leaderboard

    reference = reference_folder(args.results, args.reference, args.budget)
    path = reading_results([args.results], leaderboard.write_leaderboard, args.results, reference, args.budget)
    print(f"wrote {path}")
    if args.budget and "\n- Within " not in path.read_text():
        print("warning: --budget: no part timed in this run has reference rows to answer it", file=sys.stderr)
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

"""`python -m bench report`: DIR/leaderboard.md (with tables/ and plots/) from DIR/raw/*.json."""

from __future__ import annotations

import os
import sys
import warnings

from bench.errors import BenchError

HELP = "write DIR/leaderboard.md from DIR/raw/*.json"


def add_arguments(parser) -> None:
    parser.add_argument("--results", default="results", help="results directory (default: results)")


def run(args) -> int:
    from bench.report import leaderboard

    path = reading_results([args.results], leaderboard.write_leaderboard, args.results)
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

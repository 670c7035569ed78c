"""`python -m bench compare OLD NEW`: a noise-aware regression table; exit code 1 on a regression."""

from __future__ import annotations

import sys

from bench.cli.arguments import positive_float
from bench.cli.report import reading_results
from bench.errors import BenchError

HELP = "noise-aware regression table between two result sets"


def add_arguments(parser) -> None:
    parser.add_argument("old", help="results directory of the baseline")
    parser.add_argument("new", help="results directory to judge")
    parser.add_argument(
        "--threshold",
        type=positive_float,
        default=1.10,
        help="epoch-time ratio that counts as a change, when beyond noise (default 1.10)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (one object per row)")


def run(args) -> int:
    from bench.report import compare

    table = reading_results([args.old, args.new], compare.compare, args.old, args.new, args.threshold)
    if table.empty:
        raise BenchError("the two result sets have no configuration in common")
    print(table.to_json(orient="records", indent=1) if args.json else table.to_markdown(index=False))
    if compare.has_regression(table):
        print("regression: see the rows marked slower or worse", file=sys.stderr)
        return 1
    return 0

"""`python -m bench yardstick`: the airbench package's airbench94 as it runs itself (CUDA only)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.cli.arguments import non_negative_int

HELP = (
    "run the airbench package's airbench94 as it runs itself (CUDA only; pip install 'cnnbench[yardstick]'), "
    "one record per seed"
)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=non_negative_int,
        default=[0, 1, 2, 3, 4],
        help="one run per seed (default: 0 1 2 3 4)",
    )
    parser.add_argument("--data-dir", help="where CIFAR-10 is (default: the usual lookup, see docs/data.md)")
    parser.add_argument("--results", default="results", help="results directory (default: results)")


def run(args) -> int:
    from bench.run import yardstick

    yardstick.check_available()
    with tempfile.TemporaryDirectory(prefix="cnnbench-airbench-") as scratch:
        for record in yardstick.run(args.data_dir, args.results, args.seeds, Path(scratch)):
            print(yardstick.result_line(record))
    return 0

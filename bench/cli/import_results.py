"""`python -m bench import SOURCE`: another run's raw and calibration files into a results directory."""

from __future__ import annotations

HELP = (
    "copy another run's raw and calibration files (a results directory or a .tar.gz such as .ci/gpu-run packs) "
    "into a results directory"
)


def add_arguments(parser) -> None:
    parser.add_argument("source", help="results directory or archive to import from")
    parser.add_argument("--results", default="results", help="results directory (default: results)")


def run(args) -> int:
    from bench.results import store

    imported, present = store.import_results(args.source, args.results)
    print(
        f"imported {len(imported)} files into {args.results}"
        + (f" ({len(present)} already there, left alone)" if present else "")
    )
    return 0

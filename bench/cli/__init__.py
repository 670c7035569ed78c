"""Command line: `python -m bench list | run | tune | report | compare | import | yardstick` (also installed as
`cnnbench`). One module per command, each with its HELP, `add_arguments(parser)` and `run(args) -> int`.

Bad input never shows a traceback: it is one line on stderr and exit code 2.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from bench.cli import compare, import_results, listing, report, run, tune, yardstick
from bench.cli.arguments import OneLineParser
from bench.errors import BenchError

COMMANDS = {
    "list": listing,
    "run": run,
    "tune": tune,
    "report": report,
    "compare": compare,
    "import": import_results,
    "yardstick": yardstick,
}


def build_parser() -> OneLineParser:
    """The parser of every command, each adding its own arguments."""
    parser = OneLineParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, command in COMMANDS.items():
        command.add_arguments(commands.add_parser(name, help=command.HELP))
    return parser


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input is one line and exit code 2, Ctrl-C or SIGTERM (`kill`, a scheduler's stop)
    exit code 130: a sweep stops its running trial (no record of it), keeps the finished ones, and --resume
    picks up the rest."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command].run(args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m bench list | head -1`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1

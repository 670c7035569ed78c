"""Runs one trial in its own process: reads a TrialConfig as JSON on stdin, writes events on stdout.

Each event is one line, `@@cnnbench <json>`, so stray output of a framework cannot be mistaken
for one. The last event is `result` (the trial's body) or `error` (status and message). Where the sweep gives the
trial a checkpoint folder (bench.run.checkpoints), a trial resumed from it first sends `resumed`, with the epochs
it brings.
"""

from __future__ import annotations

import json
import sys
import traceback

EVENT_PREFIX = "@@cnnbench "


def emit(event: dict) -> None:
    sys.stdout.write(EVENT_PREFIX + json.dumps(event) + "\n")
    sys.stdout.flush()


def classify(error: BaseException, framework: str) -> str:
    """The status of a trial that raised `error`: diverged, oom (by the framework's error types) or crashed."""
    from bench.frameworks.base import get_adapter
    from bench.run.trial import Diverged

    if isinstance(error, Diverged):
        return "diverged"
    try:
        out_of_memory = get_adapter(framework).is_oom(error)
    except ImportError:  # the framework itself failed to load: that was the error
        out_of_memory = False
    return "oom" if out_of_memory else "crashed"


def main() -> int:
    from bench.run.checkpoints import Checkpoints
    from bench.run.trial import run
    from bench.spec.config import TrialConfig

    config = TrialConfig.from_record(json.loads(sys.stdin.read()))
    try:
        body = run(config, emit, Checkpoints.from_environment())
    except Exception as error:  # every failure becomes a result row
        traceback.print_exc()
        last_line = f"{type(error).__name__}: {error}".strip().splitlines()[-1]
        emit({"event": "error", "status": classify(error, config.framework), "error": last_line})
        return 1
    emit({"event": "result", "body": body})
    return 0


if __name__ == "__main__":
    sys.exit(main())

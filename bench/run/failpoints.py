"""Fault injection for the fault-tolerance tests: `CNNBENCH_FAULT=<fault>@<epoch>` in a trial's env.

Faults: `oom` raises MemoryError, `kill` makes the trial process kill itself with SIGKILL,
`kill-parent` kills the process that started the trial (a Ray worker, for the executor's retry),
`sleep` hangs the trial (for --trial-timeout). Unset in normal use, when `check` does nothing.
"""

from __future__ import annotations

import os
import signal
import time

ENV = "CNNBENCH_FAULT"


def check(epoch: int) -> None:
    """Trigger the configured fault if it is due after `epoch`."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    fault, _, when = spec.partition("@")
    if epoch != int(when or 1):
        return
    if fault == "oom":
        raise MemoryError("simulated out of memory (CNNBENCH_FAULT)")
    if fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault == "kill-parent":
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(1)
    if fault == "sleep":
        time.sleep(3600)
    raise ValueError(f"unknown {ENV} fault {fault!r}")

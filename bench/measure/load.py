"""Foreign load: how much CPU other processes took while a trial was timed, from psutil's counters.

The machine's busy CPU time (user, nice, system, interrupts and time stolen by a hypervisor) less this
process's own (its threads and the children it waited for), over the wall time: cores' worth of other
work. Load does not change what a model learns; it does change its epoch time, so tables mark an epoch
time measured beside FOREIGN_LOAD_CORES or more (bench.report.frame).
"""

from __future__ import annotations

import statistics
import time

import psutil

from bench.measure.timing import on_last_machine, steady_epochs

FOREIGN_LOAD_CORES = 0.25  # other processes' CPU, in cores, from which an epoch time counts as timed under load
STALL_SHARE = 0.6  # a CPU epoch whose own CPU is under this share of its threads stalled (idle in its framework)
MIN_QUIET_EPOCHS = 5  # steady epochs without foreign load that make a trial's epoch time on their own


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot."""
    times = psutil.cpu_times()
    return sum(getattr(times, field, 0.0) for field in ("user", "nice", "system", "irq", "softirq", "steal"))


def own_seconds(process: psutil.Process) -> float:
    """CPU seconds of `process`, its threads included, and of its finished children."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


class ForeignLoad:
    """Context manager: `cores` is the CPU time other processes took during the block over its wall time;
    `own_cores` this process's own (a CPU trial computing on its threads keeps them busy; one idling in its
    framework does not: see stalled)."""

    def __init__(self):
        self._process = psutil.Process()
        self.cores = self.own_cores = float("nan")

    def __enter__(self) -> ForeignLoad:
        self._start = (time.perf_counter(), machine_busy_seconds(), own_seconds(self._process))
        return self

    def __exit__(self, *exc) -> None:
        wall, busy, own = (
            now - then
            for now, then in zip((time.perf_counter(), machine_busy_seconds(), own_seconds(self._process)), self._start)
        )
        self.cores = max(0.0, busy - own) / wall if wall > 0 else 0.0
        self.own_cores = own / wall if wall > 0 else 0.0


def stalled(epoch: dict, threads: int | None) -> bool:
    """Whether a CPU epoch on `threads` threads kept its own threads busy less than STALL_SHARE of the time: idle
    inside its framework (TensorFlow's input pipeline tearing down, docs/recipes-and-suites.md). None threads: a
    GPU trial, whose host threads wait by design. Epochs from before own CPU was measured never stalled."""
    own = epoch.get("own_cpu_cores")
    return threads is not None and own is not None and own < STALL_SHARE * threads


def _loaded(epoch: dict, threads: int | None = None) -> bool:
    return (epoch.get("foreign_cpu_cores") or 0.0) >= FOREIGN_LOAD_CORES or stalled(epoch, threads)


def epoch_time_and_load(
    epochs: list[dict], recorded_median: float | None, threads: int | None = None
) -> tuple[float | None, bool]:
    """A record's epoch time and whether it was timed under load (or stalled: see stalled). The steady epochs
    (bench.measure.timing.steady_epochs; else every epoch) that ran without foreign load or a stall give the median
    when every one did or at least MIN_QUIET_EPOCHS did (a long trial keeps its quiet epochs); otherwise the
    recorded median, marked. Records from before load was measured say nothing of it: their median, unmarked."""
    timed = [epoch for epoch, counts in zip(epochs, steady_epochs(epochs)) if counts] or [
        epoch for epoch, here in zip(epochs, on_last_machine(epochs)) if here
    ]
    quiet = [epoch.get("epoch_time_s") for epoch in timed if not _loaded(epoch, threads)]
    loaded = len(quiet) < len(timed)
    if not loaded or len(quiet) < MIN_QUIET_EPOCHS or None in quiet:
        return recorded_median, loaded
    return statistics.median(quiet), False

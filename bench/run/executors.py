"""Where a sweep's trials run: `Executor.run(trials, admit, timeout, on_epoch)` yields (trial, outcome).

Every executor runs each trial in a fresh process (`trial_process.run_trial`), asks `admit` just before
starting one (the driver's claim and resume check), passes each epoch's event to `on_epoch(trial,
event)` (which may return a reason to stop the trial: a search's pruner), gives each trial its checkpoint
folder under `checkpoint_root` (bench.run.checkpoints), and hands each outcome back
to the driver, which alone writes the results directory: resume, report and compare never depend on
the executor.

- `local`: one trial after another on this machine.
- `ray`: trials as Ray tasks over every GPU of a machine or a cluster (bench.run.ray_executor).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from bench.run.trial_process import run_trial
from bench.spec.config import TrialConfig

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    name: str

    def run(
        self,
        trials: list[TrialConfig],
        admit: Callable[[TrialConfig], bool],
        timeout: float | None,
        on_epoch: Callable[[TrialConfig, dict], str | None],
        checkpoint_root: Path | None = None,
    ) -> Iterator[tuple[TrialConfig, dict]]: ...


class LocalExecutor:
    """Today's executor: each trial in its own subprocess on this machine, one at a time."""

    name = "local"

    def run(self, trials, admit, timeout, on_epoch, checkpoint_root=None):
        for config in trials:
            if admit(config):
                yield (
                    config,
                    run_trial(config, timeout, lambda event, config=config: on_epoch(config, event), checkpoint_root),
                )


def make_executor(name: str, ray_address: str | None = None, max_parallel: int | None = None) -> Executor:
    """The executor called `name`; a BenchError (one line, exit 2) when it cannot run here."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from bench.run.ray_executor import RayExecutor

        return RayExecutor(ray_address, max_parallel)
    from bench.errors import BenchError

    raise BenchError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")

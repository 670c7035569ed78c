"""A sweep: every trial not yet finished, run on an executor, each claimed while it runs, resumably.

A trial that raises, diverges, runs out of memory, times out or dies by a signal becomes a
result row with that status; the sweep goes on. Ctrl-C keeps every finished trial, discards
the running one, and exits 130. Each trial saves a checkpoint after every epoch (bench.run.checkpoints): a sweep
with resume goes on with a trial that was cut short from its last finished epoch.

Executors (bench.run.executors: local, ray) decide where trials run;
the sweep alone writes their results, claims and calibrations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.paths import portable
from bench.results import store
from bench.results.schema import STATUSES
from bench.run import checkpoints
from bench.run.calibrations import calibrate
from bench.run.executors import LocalExecutor
from bench.run.progress import Progress
from bench.spec.config import TrialConfig


@dataclass
class SweepSummary:
    """What a sweep did: trials per status, those skipped as done or held by another sweep, and Ctrl-C."""

    counts: dict[str, int] = field(default_factory=dict)
    skipped_done: int = 0
    skipped_claimed: int = 0
    interrupted: bool = False

    def line(self) -> str:
        parts = [f"{n} {status}" for status, n in self.counts.items() if n]
        if self.skipped_done:
            parts.append(f"{self.skipped_done} already done (resumed)")
        if self.skipped_claimed:
            parts.append(f"{self.skipped_claimed} left to another sweep running them")
        head = "interrupted" if self.interrupted else "sweep finished"
        return f"{head}: " + (", ".join(parts) or "no trials run")


class Sweep:
    """One sweep into `results_dir`, writing one result file per trial; only this process writes there.

    Hooks of a search (bench.run.tune): `on_epoch(config, event)` may return a reason to stop the trial
    (see bench.run.trial_process); `on_record(config, record)` sees each record once it is written. With
    `tensorboard_dir`, every trial's epochs and final metrics are logged there (bench.run.tensorboard_log).

    Each trial is claimed in the results directory while it runs, so concurrent sweeps into one
    directory run it once: a trial another live sweep holds is left to it.
    """

    def __init__(
        self,
        results_dir,
        resume=False,
        trial_timeout=None,
        provenance=None,
        executor=None,
        on_epoch=None,
        on_record=None,
        tensorboard_dir=None,
    ):
        self.results_dir, self.resume, self.trial_timeout = results_dir, resume, trial_timeout
        self.provenance = provenance or {}
        self.executor = executor or LocalExecutor()
        self.on_epoch, self.on_record = on_epoch, on_record
        self.summary = SweepSummary(counts={status: 0 for status in STATUSES})
        self.claims: dict[str, Path] = {}
        self.progress: Progress | None = None  # made once the trials left to run are known
        self.logs = None
        if tensorboard_dir:
            from bench.run.tensorboard_log import TrialLogs

            self.logs = TrialLogs(tensorboard_dir)

    def run(self, trials: list[TrialConfig], calibration: bool = False) -> SweepSummary:
        """Run every trial not already finished (with resume), after the calibration if asked for."""
        trials = self._left_to_run(trials)
        if calibration and trials:
            calibrate(trials, self.results_dir, self.provenance)
        self.progress = Progress(sum(t.epochs for t in trials))
        try:
            run = self.executor.run(
                trials, self.admit, self.trial_timeout, self.epoch_done, checkpoints.root(self.results_dir).resolve()
            )
            for config, outcome in run:
                self._write(config, outcome)
        except KeyboardInterrupt:
            self.summary.interrupted = True
        finally:
            self._close()
        return self.summary

    def _left_to_run(self, trials: list[TrialConfig]) -> list[TrialConfig]:
        """With resume, the trials without a result yet (the others are counted as done)."""
        if not self.resume:
            return trials
        done = store.finished_trial_ids(self.results_dir)
        self.summary.skipped_done = sum(t.trial_id in done for t in trials)
        return [t for t in trials if t.trial_id not in done]

    def admit(self, config: TrialConfig) -> bool:
        """Claim a trial before it starts; False (and counted) when another sweep holds or finished it."""
        claimed = store.claim(self.results_dir, config.trial_id)
        if claimed is not None and self.resume and store.has_result(self.results_dir, config.trial_id):
            store.release(claimed)  # finished by another sweep since this one started
            self.summary.skipped_done += 1
        elif claimed is None:
            self.summary.skipped_claimed += 1
        else:
            self.claims[config.trial_id] = claimed
            if not self.resume:  # a trial run afresh: an earlier checkpoint of it is not to be continued
                checkpoints.remove(self.results_dir, config.trial_id)
            self.progress.start(config)
            return True
        self.progress.skip(config)
        return False

    def epoch_done(self, config: TrialConfig, event: dict) -> str | None:
        """Show and log a finished epoch; a search's hook may answer a reason to stop the trial."""
        self.progress.epoch(config, event)
        if self.logs:
            self.logs.epoch(config, event)
        return self.on_epoch(config, event) if self.on_epoch else None

    def _write(self, config: TrialConfig, outcome: dict) -> None:
        """The trial's record, written, counted and its claim released at once (Ctrl-C may come any moment)."""
        record = {
            "schema_version": store.SCHEMA_VERSION,
            "trial_id": config.trial_id,
            "config": {
                **config.record(),
                "resolved_recipe": config.identity()["resolved_recipe"],
                "data_dir": config.data_dir and portable(config.data_dir),
                "weights": config.weights and portable(config.weights),
            },
            "provenance": self.provenance,
            "executor": self.executor.name,
            **outcome,
        }
        path = store.write(self.results_dir, record)
        self.summary.counts[record["status"]] += 1  # right after the write: Ctrl-C may come at any moment
        checkpoints.remove(self.results_dir, config.trial_id)
        store.release(self.claims.pop(config.trial_id))
        self.progress.finish(config, _trial_line(record, path))
        if self.logs:
            self.logs.finish(config, record)
        if self.on_record:
            self.on_record(config, record)

    def _close(self) -> None:
        """Bars and logs closed, and every claim still held released (a trial cut short by Ctrl-C)."""
        self.progress.close()
        if self.logs:
            self.logs.close()
        for claimed in self.claims.values():
            store.release(claimed)


def run_sweep(
    trials: list[TrialConfig],
    results_dir,
    resume: bool = False,
    trial_timeout: float | None = None,
    provenance: dict | None = None,
    calibration: bool = False,
    executor=None,
    on_epoch=None,
    on_record=None,
    tensorboard_dir=None,
) -> SweepSummary:
    """Run `trials` as one Sweep (see there) into `results_dir`; the summary of what it did."""
    sweep = Sweep(results_dir, resume, trial_timeout, provenance, executor, on_epoch, on_record, tensorboard_dir)
    return sweep.run(trials, calibration)


def _trial_line(record: dict, path: Path) -> str:
    """The line a finished trial prints: its status, label, score and epoch time, and its file."""
    label = TrialConfig.from_record(record["config"]).label()
    if record["status"] != "ok":
        return f"{record['status']:8} {label}: {record['error']}"
    timing = record["timing"]
    scored = (
        f"test accuracy {record['test']['accuracy']:.4f}"
        if record["test"]
        else f"validation accuracy {record['epochs'][-1].get('val_accuracy', float('nan')):.4f}"
    )
    return f"ok       {label}: {scored}, epoch {timing['epoch_median_s']:.1f} s -> {path.name}"

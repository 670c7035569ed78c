"""A trial's checkpoint at the end of each epoch, so that a killed trial goes on from its last finished epoch.

One folder per trial, beside its results (`<results>/checkpoints/<trial id>/`, never committed), holds the
newest finished epoch only: the harness's own state as JSON (the epochs' records, the order generator, the
schedule's plateau and early-stopping state, fine-tuning's phases, which process ran which epochs) and the
framework's state in the framework's own format (`Adapter.save_checkpoint`: weights, optimizer, random
generators, early stopping's best weights). An epoch's checkpoint is written to a folder of its own and renamed
into place, so a kill while writing leaves the previous one whole. The sweep removes the folder once the trial's
record is written (whatever its status), and before it starts a trial afresh (without --resume). A checkpoint
goes on across versions of cnnbench as trial ids do (the code of the trial's later processes may be newer).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

CHECKPOINTS_DIR = "checkpoints"  # under the results directory
ENV = "CNNBENCH_CHECKPOINT_DIR"  # the trial's own folder, given to its process by the sweep
HARNESS_FILE = "harness.json"
FORMAT = 1  # of the harness's state; a checkpoint of another format (or another trial) is started afresh
EPOCH_PREFIX = "epoch-"


def root(results_dir) -> Path:
    """Where the trials of a sweep into `results_dir` keep their checkpoints, a folder each named by trial id."""
    return Path(results_dir) / CHECKPOINTS_DIR


def remove(results_dir, trial_id: str) -> None:
    """The trial's checkpoint, gone (its record is written, or a sweep without --resume starts it afresh)."""
    shutil.rmtree(root(results_dir) / trial_id, ignore_errors=True)


class Checkpoints:
    """The checkpoints of one trial in `folder`; None (from `from_environment`) where the trial keeps none."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    @classmethod
    def from_environment(cls) -> Checkpoints | None:
        """The trial process's checkpoints, where its sweep gave it a folder."""
        folder = os.environ.get(ENV)
        return cls(folder) if folder else None

    def latest(self) -> Path | None:
        """The newest whole epoch's checkpoint folder, or None."""
        if not self.folder.is_dir():
            return None
        finished = sorted(p for p in self.folder.glob(EPOCH_PREFIX + "*") if p.suffix != ".partial")
        return finished[-1] if finished else None

    def load(self, trial_id: str) -> tuple[dict, Path] | None:
        """(the harness's state, the folder holding the framework's) of the newest whole epoch of the trial
        `trial_id`; None if there is none, or only one of another trial or format."""
        latest = self.latest()
        if latest is None:
            return None
        harness = json.loads((latest / HARNESS_FILE).read_text())
        if harness.get("format") != FORMAT or harness.get("trial_id") != trial_id:
            return None
        return harness, latest

    def save(self, epoch: int, harness: dict, save_framework_state) -> None:
        """Write epoch `epoch`'s checkpoint: `harness` as JSON and `save_framework_state(folder)`; then drop
        the older ones."""
        final = self.folder / f"{EPOCH_PREFIX}{epoch:04d}"
        partial = final.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        save_framework_state(partial)
        (partial / HARNESS_FILE).write_text(json.dumps(harness))
        partial.rename(final)
        for older in self.folder.glob(EPOCH_PREFIX + "*"):
            if older != final:
                shutil.rmtree(older, ignore_errors=True)

"""Expands a sweep into trials and runs each in its own subprocess, resumably, on an executor.

A trial that raises, diverges, runs out of memory, times out or dies by a signal becomes a
result row with that status; the sweep goes on. Ctrl-C keeps every finished trial, discards
the running one, and exits 130. Executors (bench.run.executors: local, ray) decide where trials run;
this module alone writes their results, claims and calibrations.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.data import cifar, pretrained
from bench.errors import BenchError
from bench.frameworks import backend_for, missing_framework, unsupported
from bench.paths import PROJECT_ROOT, portable
from bench.results import store
from bench.results.schema import STATUSES
from bench.run.progress import Progress
from bench.run.worker import EVENT_PREFIX
from bench.spec.config import TrialConfig
from bench.spec.recipes import get_recipe


@dataclass
class SweepSummary:
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


def expand(
    entries, frameworks, device, batch_sizes, seeds, learning_rates=None, weights_dir=None, **common
) -> tuple[list[TrialConfig], list[str]]:
    """Suite entries x frameworks x batch sizes x learning rates x seeds (a grid, as r4's search); a batch
    size, learning rate or budget left unset is the recipe's. Trials of frameworks missing here, or of
    entries whose weights file is not in `weights_dir`, are skipped with a reason."""
    trials, skipped = [], []
    grid = [(batch, rate) for batch in (batch_sizes or [None]) for rate in (learning_rates or [None])]
    for framework in frameworks:
        reason = missing_framework(framework, device)
        for entry in entries:
            recipe = get_recipe(entry.recipe)
            weights, missing_weights = common.get("weights"), None
            if entry.weights and not weights:
                weights = str(Path(weights_dir or pretrained.DEFAULT_WEIGHTS_DIR) / entry.weights)
                if not Path(weights).is_file():
                    missing_weights = (
                        f"needs weights file {entry.weights} in {portable(Path(weights).parent)} "
                        f"(--weights-dir; see README, Transfer learning)"
                    )
            for (batch, learning_rate), seed in ((point, seed) for point in grid for seed in seeds):
                batch_size = batch or entry.batch_size or recipe.batch_size
                config = TrialConfig(
                    model=entry.model,
                    framework=framework,
                    device=device,
                    batch_size=batch_size,
                    seed=seed,
                    epochs=entry.epochs or recipe.epochs,
                    recipe=entry.recipe,
                    dataset=entry.dataset,
                    train_subset=entry.train_subset,
                    test_subset=entry.test_subset,
                    val_size=entry.val_size,
                    learning_rate=learning_rate,
                    keras_backend=backend_for(framework, device),
                    note=entry.note,
                    target_accuracy=entry.target_accuracy,
                    execution=entry.execution,
                    **{**common, "weights": weights},
                )
                why = reason or missing_weights or unsupported(framework, config.execution)
                if why:
                    skipped.append(f"skipped {config.label()}: {why}")
                else:
                    trials.append(config)
    return trials, skipped


def _worker_env(config: TrialConfig) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if config.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a cpu trial must not touch a GPU, in any framework
    if config.keras_backend:
        env["KERAS_BACKEND"] = config.keras_backend
    return env


def _last_line_of(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _other_trials_on_this_machine(own_pid: int) -> int:
    """How many other cnnbench trial processes run on this machine now (they share its cores or GPUs)."""
    count = 0
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = process.info["cmdline"] or []
        count += process.info["pid"] != own_pid and command[-2:] == ["-m", "bench.run.worker"]
    return count


def run_trial(config: TrialConfig, timeout: float | None, on_epoch) -> dict:
    """Run one trial in a subprocess; return its record body with status, error, epochs, start and end
    times, and how many other trials ran on the same machine meanwhile (sampled at every epoch).

    `on_epoch(event)` sees each epoch's figures as they arrive; when it returns a reason (a search's
    pruner), the trial is stopped there and its status is `pruned`."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="cnnbench-") as scratch:
        stderr_path = Path(scratch) / "stderr.txt"
        with open(stderr_path, "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.run.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=_worker_env(config),
            )
        events: queue.Queue = queue.Queue()

        def read_events():
            for line in process.stdout:
                if line.startswith(EVENT_PREFIX):
                    events.put(json.loads(line[len(EVENT_PREFIX) :]))
            events.put(None)

        reader = threading.Thread(target=read_events, daemon=True)
        reader.start()
        try:
            process.stdin.write(json.dumps(config.record()))
            process.stdin.close()
        except BrokenPipeError:  # the worker died before reading its trial (e.g. Ctrl-C): its exit says how
            pass
        deadline = time.monotonic() + timeout if timeout else None
        epochs, outcome = [], None
        sharing = _other_trials_on_this_machine(process.pid)
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    event = events.get(timeout=wait)
                except queue.Empty:
                    process.kill()
                    outcome = {"status": "timeout", "error": f"trial exceeded --trial-timeout {timeout:g} s"}
                    break
                if event is None:
                    break
                if event["event"] == "epoch":
                    epochs.append({k: v for k, v in event.items() if k != "event"})
                    sharing = max(sharing, _other_trials_on_this_machine(process.pid))
                    stop_reason = on_epoch(event)
                    if stop_reason:
                        process.kill()
                        outcome = {"status": "pruned", "error": stop_reason}
                        break
                elif event["event"] == "result":
                    outcome = {"status": "ok", "error": None, **event["body"]}
                elif event["event"] == "error":
                    outcome = {"status": event["status"], "error": event["error"]}
        finally:
            if process.poll() is None:
                process.kill()
            returncode = process.wait()
        if outcome is None:
            detail = _last_line_of(stderr_path.read_text(errors="replace")) or "no output"
            reason = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
            outcome = {"status": "crashed", "error": f"trial process {reason}: {detail}"}
    outcome.setdefault("epochs", epochs)
    return {
        **outcome,
        "started_at": started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"hostname": platform.node(), "other_trials_max": sharing},
    }


DEVICE_PROBE = "from bench.frameworks.base import get_adapter; get_adapter({framework!r}).check_device({device!r})"


def check_devices(trials: list[TrialConfig]) -> None:
    """Before the sweep, once per framework (and keras backend): every GPU trial's framework must see
    a GPU, else one BenchError naming the fix (never a CPU run under a cuda label)."""
    for config in {(t.framework, t.keras_backend): t for t in trials if t.device != "cpu"}.values():
        probe = DEVICE_PROBE.format(framework=config.framework, device=config.device)
        try:
            completed = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, env=_worker_env(config), timeout=300
            )
        except subprocess.TimeoutExpired:
            raise BenchError(
                f"probing {config.framework} for a GPU took over 300 s; is the driver working (nvidia-smi)?"
            ) from None
        if completed.returncode != 0:
            raise BenchError(_last_line_of(completed.stderr).removeprefix("bench.errors.BenchError: "))


def _calibration_key(config: TrialConfig, provenance: dict) -> str:
    """What a calibration depends on: the machine, the framework's versions, backend, device and threads."""
    parts = [
        provenance.get("hostname"),
        provenance.get("cpu"),
        (provenance.get("gpu") or {}).get("gpus"),
        provenance.get("packages"),
        config.framework,
        config.keras_backend,
        config.device,
        config.threads,
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def calibrate(trials: list[TrialConfig], results_dir, provenance: dict) -> dict[tuple, dict]:
    """The fixed calibration workload's timings per framework (and backend), device and threads of the sweep.

    Measured once per machine and framework version, then taken from the user cache
    (`~/.cache/cnnbench/calibration/`); written beside the results when `results_dir` is given and it
    holds no calibration of this key yet.
    """
    cache = cifar.cache_dir() / "calibration"
    have = {record.get("calibration_key") for record in store.load_calibrations(results_dir)} if results_dir else set()
    found = {}
    for config in {(t.framework, t.keras_backend, t.device, t.threads): t for t in trials}.values():
        key = _calibration_key(config, provenance)
        cached = cache / f"{key}.json"
        try:
            record = json.loads(cached.read_text())
        except (OSError, json.JSONDecodeError):
            record = None  # not cached yet, or unreadable: measure again
        if record is None:
            try:
                completed = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.measure.calibration",
                        config.framework,
                        config.device,
                        str(config.threads),
                    ],
                    capture_output=True,
                    text=True,
                    env=_worker_env(config),
                    timeout=600,
                )
            except subprocess.TimeoutExpired:
                print(f"warning: calibration of {config.framework} took over 600 s; skipped", file=sys.stderr)
                continue
            if completed.returncode != 0:
                print(
                    f"warning: calibration of {config.framework} failed: {_last_line_of(completed.stderr)}",
                    file=sys.stderr,
                )
                continue
            record = {
                "schema_version": store.SCHEMA_VERSION,
                **json.loads(completed.stdout.strip().splitlines()[-1]),
                "keras_backend": config.keras_backend,
                "calibration_key": key,
                "provenance": provenance,
            }
            store.write_json(cache, cached.name, record)
        found[(config.framework, config.keras_backend, config.device, config.threads)] = record
        if results_dir and key not in have:
            store.write_calibration(results_dir, record)
    return found


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
    """Run every trial not already finished (with `resume`) on `executor` (default: local subprocesses),
    writing one result file each; only this process writes the results directory.

    Hooks of a search (bench.run.tune): `on_epoch(config, event)` may return a reason to stop the trial
    (see run_trial); `on_record(config, record)` sees each record once it is written. With
    `tensorboard_dir`, every trial's epochs and final metrics are logged there (bench.run.tensorboard_log).

    Each trial is claimed in the results directory while it runs, so concurrent sweeps into one
    directory run it once: a trial another live sweep holds is left to it.
    """
    from bench.run.executors import LocalExecutor

    executor = executor or LocalExecutor()
    summary = SweepSummary(counts={status: 0 for status in STATUSES})
    if resume:
        done = store.finished_trial_ids(results_dir)
        summary.skipped_done = sum(t.trial_id in done for t in trials)
        trials = [t for t in trials if t.trial_id not in done]
    if calibration and trials:
        calibrate(trials, results_dir, provenance or {})
    progress = Progress(sum(t.epochs for t in trials))
    claims: dict[str, Path] = {}

    def admit(config: TrialConfig) -> bool:
        """Claim a trial before it starts; False (and counted) when another sweep holds or finished it."""
        claimed = store.claim(results_dir, config.trial_id)
        if claimed is not None and resume and store.has_result(results_dir, config.trial_id):
            store.release(claimed)  # finished by another sweep since this one started
            summary.skipped_done += 1
        elif claimed is None:
            summary.skipped_claimed += 1
        else:
            claims[config.trial_id] = claimed
            progress.start(config)
            return True
        progress.skip(config)
        return False

    logs = None
    if tensorboard_dir:
        from bench.run.tensorboard_log import TrialLogs

        logs = TrialLogs(tensorboard_dir)

    def epoch_done(config: TrialConfig, event: dict) -> str | None:
        progress.epoch(config, event)
        if logs:
            logs.epoch(config, event)
        return on_epoch(config, event) if on_epoch else None

    try:
        for config, outcome in executor.run(trials, admit, trial_timeout, epoch_done):
            record = {
                "schema_version": store.SCHEMA_VERSION,
                "trial_id": config.trial_id,
                "config": {
                    **config.record(),
                    **config.identity(),
                    "data_dir": config.data_dir and portable(config.data_dir),
                    "weights": config.weights and portable(config.weights),
                },
                "provenance": provenance or {},
                "executor": executor.name,
                **outcome,
            }
            path = store.write(results_dir, record)
            summary.counts[record["status"]] += 1  # right after the write: Ctrl-C may come at any moment
            store.release(claims.pop(config.trial_id))
            progress.finish(config, _trial_line(record, path))
            if logs:
                logs.finish(config, record)
            if on_record:
                on_record(config, record)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        progress.close()
        if logs:
            logs.close()
        for claimed in claims.values():
            store.release(claimed)
    return summary


def _trial_line(record: dict, path: Path) -> str:
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

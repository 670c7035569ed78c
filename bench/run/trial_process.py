"""One trial in its own process (bench.run.worker): the parent's side of the worker protocol.

The trial's config goes to the worker's stdin; its events (each epoch, then the result or the error) come back
on stdout, one line each. A trial that times out, is pruned, or dies by a signal still yields an outcome with
that status.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.frameworks import backend_environment
from bench.paths import PROJECT_ROOT
from bench.run import checkpoints
from bench.run.worker import EVENT_PREFIX
from bench.spec.config import TrialConfig


def worker_env(config: TrialConfig, checkpoint_folder: Path | None = None) -> dict:
    """The environment of a trial's process: the project importable, a cpu trial blind to GPUs, the framework's
    backend chosen, and its checkpoint folder where it keeps one."""
    env = dict(os.environ)
    env.pop(checkpoints.ENV, None)
    if checkpoint_folder is not None:
        env[checkpoints.ENV] = str(checkpoint_folder)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if config.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # a cpu trial must not touch a GPU, in any framework
    env.update(backend_environment(config.framework, config.backend))
    return env


def last_line_of(text: str) -> str:
    """The last non-empty line of a process's output (its error, where it failed)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _other_trials_on_this_machine(own_pid: int) -> int:
    """How many other cnnbench trial processes run on this machine now (they share its cores or GPUs)."""
    count = 0
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = process.info["cmdline"] or []
        count += process.info["pid"] != own_pid and command[-2:] == ["-m", "bench.run.worker"]
    return count


def run_trial(config: TrialConfig, timeout: float | None, on_epoch, checkpoint_root: Path | None = None) -> dict:
    """Run one trial in a subprocess; return its record body with status, error, epochs, start and end
    times, and how many other trials ran on the same machine meanwhile (sampled at every epoch).

    `on_epoch(event)` sees each epoch's figures as they arrive; when it returns a reason (a search's
    pruner), the trial is stopped there and its status is `pruned`. With `checkpoint_root`, the trial keeps
    its checkpoint in a folder of its own there, and goes on from it (bench.run.checkpoints)."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder = Path(checkpoint_root) / config.trial_id if checkpoint_root else None
    with tempfile.TemporaryDirectory(prefix="cnnbench-") as scratch:
        stderr_path = Path(scratch) / "stderr.txt"
        process, events = _start(config, stderr_path, folder)
        try:
            outcome, epochs, sharing = _follow(process, events, timeout, on_epoch)
        finally:
            if process.poll() is None:
                process.kill()
            returncode = process.wait()
        if outcome is None:
            detail = last_line_of(stderr_path.read_text(errors="replace")) or "no output"
            reason = f"killed by signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
            outcome = {"status": "crashed", "error": f"trial process {reason}: {detail}"}
    outcome.setdefault("epochs", epochs)
    return {
        **outcome,
        "started_at": started,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"hostname": platform.node(), "other_trials_max": sharing},
    }


def _start(
    config: TrialConfig, stderr_path: Path, checkpoint_folder: Path | None
) -> tuple[subprocess.Popen, queue.Queue]:
    """The worker process, given its trial on stdin, and a queue of its events (None once its output ends)."""
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.run.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=worker_env(config, checkpoint_folder),
        )
    events: queue.Queue = queue.Queue()

    def read_events():
        for line in process.stdout:
            if line.startswith(EVENT_PREFIX):
                events.put(json.loads(line[len(EVENT_PREFIX) :]))
        events.put(None)

    threading.Thread(target=read_events, daemon=True).start()
    try:
        process.stdin.write(json.dumps(config.record()))
        process.stdin.close()
    except BrokenPipeError:  # the worker died before reading its trial (e.g. Ctrl-C): its exit says how
        pass
    return process, events


def _follow(process, events: queue.Queue, timeout: float | None, on_epoch) -> tuple[dict | None, list, int]:
    """The trial's events until its result, error, timeout or a stop asked for by `on_epoch`: its outcome (None
    where the process ended without one), its epochs, and the most other trials seen running meanwhile."""
    deadline = time.monotonic() + timeout if timeout else None
    epochs, outcome = [], None
    sharing = _other_trials_on_this_machine(process.pid)
    while True:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            event = events.get(timeout=wait)
        except queue.Empty:
            process.kill()
            return {"status": "timeout", "error": f"trial exceeded --trial-timeout {timeout:g} s"}, epochs, sharing
        if event is None:
            return outcome, epochs, sharing
        if event["event"] == "resumed":  # the epochs of its earlier processes, from its checkpoint
            epochs = [*event["epochs"], *epochs]
        elif event["event"] == "epoch":
            epochs.append({k: v for k, v in event.items() if k != "event"})
            sharing = max(sharing, _other_trials_on_this_machine(process.pid))
            stop_reason = on_epoch(event)
            if stop_reason:
                process.kill()
                return {"status": "pruned", "error": stop_reason}, epochs, sharing
        elif event["event"] == "result":
            outcome = {"status": "ok", "error": None, **event["body"]}
        elif event["event"] == "error":
            outcome = {"status": event["status"], "error": event["error"]}

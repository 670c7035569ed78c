"""The calibration cache: a fixed matmul and convolution timed once per machine, framework version, backend,
device and threads (bench.measure.calibration), kept in the user cache and copied beside a sweep's results, so
that `compare` can normalise two machines and a dry run can estimate."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from bench.data import cifar
from bench.results import store
from bench.run.trial_process import last_line_of, worker_env
from bench.spec.config import TrialConfig


def _calibration_key(config: TrialConfig, provenance: dict) -> str:
    """What a calibration depends on: the machine, the framework's versions, backend, device and threads."""
    parts = [
        provenance.get("hostname"),
        provenance.get("cpu"),
        (provenance.get("gpu") or {}).get("gpus"),
        provenance.get("packages"),
        config.framework,
        config.backend,
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
    for config in {(t.framework, t.backend, t.device, t.threads): t for t in trials}.values():
        key = _calibration_key(config, provenance)
        cached = cache / f"{key}.json"
        try:
            record = json.loads(cached.read_text())
        except (OSError, json.JSONDecodeError):  # not cached yet, or unreadable: measure again
            record = _measure(config, key, provenance)
            if record is None:
                continue
            store.write_json(cache, cached.name, record)
        found[(config.framework, config.backend, config.device, config.threads)] = record
        if results_dir and key not in have:
            store.write_calibration(results_dir, record)
    return found


def _measure(config: TrialConfig, key: str, provenance: dict) -> dict | None:
    """The calibration record of `config`'s framework, device and threads, measured in a process of the trial's
    environment; None (with a warning) where it fails or takes over 600 s."""
    command = [sys.executable, "-m", "bench.measure.calibration", config.framework, config.device, str(config.threads)]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=worker_env(config), timeout=600)
    except subprocess.TimeoutExpired:
        print(f"warning: calibration of {config.framework} took over 600 s; skipped", file=sys.stderr)
        return None
    if completed.returncode != 0:
        print(f"warning: calibration of {config.framework} failed: {last_line_of(completed.stderr)}", file=sys.stderr)
        return None
    return {
        "schema_version": store.SCHEMA_VERSION,
        **json.loads(completed.stdout.strip().splitlines()[-1]),
        "backend": config.backend,
        "calibration_key": key,
        "provenance": provenance,
    }

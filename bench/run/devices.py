"""Before a GPU sweep: does every framework (and keras backend) of its trials see the GPU? Probed once each, in
a process of the trial's own environment."""

from __future__ import annotations

import subprocess
import sys

from bench.errors import BenchError
from bench.run.trial_process import last_line_of, worker_env
from bench.spec.config import TrialConfig

DEVICE_PROBE = "from bench.frameworks.base import get_adapter; get_adapter({framework!r}).check_device({device!r})"


def check_devices(trials: list[TrialConfig]) -> None:
    """Before the sweep, once per framework (and keras backend): every GPU trial's framework must see
    a GPU, else one BenchError naming the fix (never a CPU run under a cuda label)."""
    for config in {(t.framework, t.backend): t for t in trials if t.device != "cpu"}.values():
        probe = DEVICE_PROBE.format(framework=config.framework, device=config.device)
        try:
            completed = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, env=worker_env(config), timeout=300
            )
        except subprocess.TimeoutExpired:
            raise BenchError(
                f"probing {config.framework} for a GPU took over 300 s; is the driver working (nvidia-smi)?"
            ) from None
        if completed.returncode != 0:
            raise BenchError(last_line_of(completed.stderr).removeprefix("bench.errors.BenchError: "))

"""How a result names its framework, speed variant and hardware in tables and plots."""

from __future__ import annotations

from bench.measure.provenance import machine_fingerprint
from bench.spec.execution import Execution


def framework_label(record: dict) -> str:
    """The framework, with its backend where it has several ('keras (jax)'): rows of two backends never merge."""
    config = record["config"]
    return f"{config['framework']} ({config['backend']})" if config.get("backend") else config["framework"]


def variant_label(config: dict) -> str:
    """The speed options of a trial, e.g. 'fast+bf16+channels-last+compile=default' or 'naive'."""
    return Execution.of(config).label()


def hardware_label(record: dict) -> str:
    """The GPU's name, or the CPU with the trial's thread count, then the machine's fingerprint: rows of two
    machines that share a name never pool. A failed trial has no settings: its GPU is the one the sweep's
    provenance names (nvidia-smi)."""
    config, settings = record["config"], record.get("settings") or {}
    provenance = record.get("provenance") or {}
    if config["device"] == "cuda":
        gpus = (provenance.get("gpu") or {}).get("gpus") or ["GPU (name not recorded)"]
        name = settings.get("device_name") or gpus[0]
    else:
        threads = config["threads"]
        name = f"{provenance.get('cpu', 'cpu')}, {threads} thread{'s' if threads > 1 else ''}"
    return on_machine(name, provenance)


def on_machine(name: str, provenance: dict) -> str:
    """A device's name with the fingerprint of the machine in `provenance`, e.g. 'NVIDIA H200 #5087fe'."""
    return f"{name} #{machine_fingerprint(provenance)}"

"""How a result names its framework, speed variant and hardware in tables and plots."""

from __future__ import annotations

from bench.spec.execution import Execution


def framework_label(record: dict) -> str:
    """'torch', or 'keras (BACKEND)': rows of different keras backends never merge."""
    backend = record["config"].get("keras_backend")
    return f"keras ({backend})" if backend else record["config"]["framework"]


def variant_label(config: dict) -> str:
    """The speed options of a trial, e.g. 'fast+bf16+channels-last+compile=default' or 'naive'."""
    return Execution.of(config).label()


def hardware_label(record: dict) -> str:
    """The GPU's name, or the CPU with the trial's thread count. A failed trial has no settings: its GPU
    is the one the sweep's provenance names (nvidia-smi)."""
    config, settings = record["config"], record.get("settings") or {}
    provenance = record.get("provenance") or {}
    if config["device"] == "cuda":
        gpus = (provenance.get("gpu") or {}).get("gpus") or ["GPU (name not recorded)"]
        return settings.get("device_name") or gpus[0]
    cpu = provenance.get("cpu", "cpu")
    threads = config["threads"]
    return f"{cpu}, {threads} thread{'s' if threads > 1 else ''}"

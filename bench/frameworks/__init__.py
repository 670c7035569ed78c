"""The framework adapters, one module each, and which execution options each one honours.

This module imports no framework: the driver asks it whether a trial can run before any process starts.
"""

from __future__ import annotations

from dataclasses import fields

from bench.adapter import Execution

# The execution options each framework honours when set away from their default (see bench.adapter.Execution).
# Keras models are channels-last already, so the option is accepted and changes nothing there.
HONOURED = {
    "torch": {"amp", "channels_last", "compile", "loader", "fused_optimizer", "cudnn_benchmark"},
    "keras": {"amp", "channels_last", "compile", "steps_per_execution"},
}


def unsupported(framework: str, execution: Execution) -> str | None:
    """Why `framework` cannot run with these options (naming the option and who has it), or None."""
    for option in fields(Execution):
        value = getattr(execution, option.name)
        if value != option.default and option.name not in HONOURED[framework]:
            others = sorted(name for name, honoured in HONOURED.items() if option.name in honoured)
            shown = option.name.replace("_", "-")
            setting = f"the {value} loader" if option.name == "loader" else f"--{shown}"
            return f"{setting} is {'/'.join(others)}-only" if others else f"--{shown} is not supported"
    return None

"""Published peak throughput of known accelerators, to express achieved FLOP/s as a share of peak.

Dense (no sparsity) tensor-core peaks from the vendors' data sheets, in TFLOP/s, SXM parts.
A device not listed here gets no share-of-peak figure rather than a guessed one.
"""

from __future__ import annotations

PEAK_TFLOPS = {  # name fragment -> precision -> dense peak TFLOP/s
    "H200": {"bfloat16": 989.0, "float16": 989.0, "tf32": 494.0, "float32": 67.0},
    "H100": {"bfloat16": 989.0, "float16": 989.0, "tf32": 494.0, "float32": 67.0},
    "A100": {"bfloat16": 312.0, "float16": 312.0, "tf32": 156.0, "float32": 19.5},
    "L4": {"bfloat16": 121.0, "float16": 121.0, "tf32": 60.0, "float32": 30.3},
}


def peak_tflops(device_name: str | None, precision: str) -> float | None:
    """Peak TFLOP/s of `device_name` at `precision` (float32 with TF32 on counts as tf32), or None."""
    if not device_name:
        return None
    for fragment, peaks in PEAK_TFLOPS.items():
        if fragment in device_name:
            return peaks.get(precision)
    return None

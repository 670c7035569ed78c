"""torch's process-wide settings: thread pools and TF32 (also used by keras on its torch backend)."""

from __future__ import annotations

import torch


def set_torch_threads(threads: int) -> None:
    """Intra- and inter-op threads; the inter-op pool can be sized only once per process."""
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass  # already started in this process; settings() records the count in force


def strict_float32() -> None:
    """The fairness default of every framework here: float32 matmuls and convolutions in full float32
    (TF32 off; torch's cuDNN default allows it)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def tf32_allowed() -> bool:
    return torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32

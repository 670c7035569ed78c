"""Local pretrained weights in torchvision's format (a state dict file), mapped to spec layer names.

Nothing is downloaded: the user gives a path (e.g. torchvision's resnet34-b627a593.pth). The file
is read with `torch.load(..., weights_only=True)`, which refuses pickled code. Spec names follow
torchvision's module paths with dots as underscores (layer1.0.conv1 -> layer1_0_conv1); a layer
whose shape differs (the 1000-way ImageNet head on a 10- or 100-class model) keeps its fresh
initialisation, as in fine-tuning.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from bench.errors import BenchError

# Where torchvision keeps the files it downloads (torch.hub's checkpoints folder): a machine that once ran
# `torchvision.models.resnet50(weights="IMAGENET1K_V1")` has them there.
DEFAULT_WEIGHTS_DIR = (
    Path(os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch")
    / "hub"
    / "checkpoints"
)


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_exists(path: str) -> None:
    if not Path(path).is_file():
        raise BenchError(
            f"pretrained weights file {path} not found (cnnbench never downloads weights: "
            "download torchvision's file yourself and pass its path)"
        )


def read_torchvision(path: str, expected: dict[str, dict[str, tuple]]) -> tuple[dict, list[str]]:
    """Weights by spec name for every layer whose tensors match `expected` shapes; and the skipped names."""
    check_exists(path)
    try:
        import torch
    except ImportError:
        raise BenchError("reading torchvision weights files needs torch: pip install 'cnnbench[torch]'") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt file, or one that is not a plain state dict
        raise BenchError(f"cannot read weights file {path}: {err}") from None
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for key, tensor in state.items():
        module, _, tensor_name = key.rpartition(".")
        if tensor_name != "num_batches_tracked":
            grouped.setdefault(module.replace(".", "_"), {})[tensor_name] = tensor.numpy()
    weights, skipped = {}, []
    for name, shapes in expected.items():
        found = grouped.get(name, {})
        if {k: tuple(v.shape) for k, v in found.items()} == shapes:
            weights[name] = found
        else:
            skipped.append(name)
    if not weights:
        raise BenchError(f"weights file {path} matches no layer of this model")
    return weights, skipped

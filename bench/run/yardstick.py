"""The airbench package's airbench94, run as it runs itself: the external yardstick of the GPU rows.

airbench94 (Keller Jordan's airbench, on the package index) trains on all 50,000 CIFAR-10 training images and
scores the test set with flip-and-translate test-time augmentation. Its `CifarLoader` reads `train.pt` and
`test.pt` (uint8 NHWC images, labels, class names) from a directory, which `write_airbench_data` writes from
the copy cnnbench found, so airbench downloads nothing. Each seed is one record under RESULTS/yardstick/, with
its own protocol named, kept apart from the harness's trials.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import time
from pathlib import Path

from bench.data import cifar
from bench.errors import BenchError
from bench.measure import provenance
from bench.results import store

AIRBENCH_FOLDER = "cifar10"  # airbench's train() opens CifarLoader('cifar10', train=False) in the working directory
PROTOCOL = (
    "the airbench package's own protocol: all 50,000 training images, 9.9 epochs, whitening "
    "initialisation, lookahead, test scored with flip-and-translate test-time augmentation; time is the "
    "synchronised wall time of train94 after one warm-up run (airbench's own clock leaves out loading "
    "the test set)"
)


def write_airbench_data(dataset: cifar.Cifar, root: Path) -> Path:
    """Write `dataset` as airbench's loader reads it: root/cifar10/{train,test}.pt. Returns that folder."""
    import torch

    folder = Path(root) / AIRBENCH_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for split, images, labels in (
        ("train", dataset.train_x, dataset.train_y),
        ("test", dataset.test_x, dataset.test_y),
    ):
        torch.save(
            {
                "images": torch.from_numpy(images),
                "labels": torch.from_numpy(labels).long(),
                "classes": list(dataset.class_names),
            },
            folder / f"{split}.pt",
        )
    return folder


def check_available() -> None:
    """One-line refusal, before anything runs, when the package or a GPU is missing (airbench needs CUDA)."""
    try:
        importlib.metadata.version("airbench")
    except importlib.metadata.PackageNotFoundError:
        raise BenchError("the yardstick needs the airbench package: pip install 'cnnbench[yardstick]'") from None
    import torch

    if not torch.cuda.is_available():
        raise BenchError("the yardstick needs a CUDA GPU: airbench94 runs on CUDA only")


def run(data_dir, results_dir, seeds: list[int], work_dir: Path) -> list[dict]:
    """Write the data, warm up once, then train and score airbench94 once per seed; one record each."""
    check_available()
    dataset = cifar.load("cifar10", data_dir)
    if dataset.name != "cifar10" or len(dataset.train_y) != 50_000:
        raise BenchError("the yardstick needs the whole CIFAR-10 training set (50,000 images)")
    import airbench
    import torch

    folder = write_airbench_data(dataset, work_dir)
    shared = {
        "schema_version": store.SCHEMA_VERSION,
        "provenance": provenance.collect(),
        "protocol": PROTOCOL,
        "dataset": {
            "label": dataset.label,
            "sha256": dataset.sha256,
            "train_size": len(dataset.train_y),
            "test_size": len(dataset.test_y),
        },
        "airbench_version": importlib.metadata.version("airbench"),
        "device_name": torch.cuda.get_device_name(),
    }
    records = []
    with contextlib.chdir(work_dir):
        loader = airbench.CifarLoader(
            str(folder), train=True, batch_size=1024, aug={"flip": True, "translate": 2}, altflip=True
        )
        test_loader = airbench.CifarLoader(str(folder), train=False, batch_size=2000)
        with contextlib.redirect_stdout(io.StringIO()):
            airbench.train94(loader, run=-1, verbose=False)  # warm-up: cuDNN's autotuning, allocator
        for seed in seeds:
            record = {**shared, **_timed_run(airbench, torch, loader, test_loader, seed)}
            name = f"airbench94-package_seed{seed}_{store.stamp()}.json"
            store.write_json(Path(results_dir) / store.YARDSTICK_DIR, name, record)
            records.append(record)
    return records


def _timed_run(airbench, torch, loader, test_loader, seed: int) -> dict:
    """One airbench94 run of `seed`, timed between device synchronisations, scored with and without test-time
    augmentation."""
    torch.manual_seed(seed)
    torch.cuda.synchronize()
    start = time.perf_counter()
    model = airbench.train94(loader, verbose=False)
    torch.cuda.synchronize()
    return {
        "model": "airbench94",
        "source": "airbench package",
        "seed": seed,
        "train_seconds": time.perf_counter() - start,
        "test_accuracy": airbench.evaluate(model, test_loader, tta_level=2),
        "test_accuracy_without_tta": airbench.evaluate(model, test_loader, tta_level=0),
    }


def load(results_dir) -> list[dict]:
    """Every yardstick record under RESULTS/yardstick, in file-name order."""
    return [record for _, record in store.read_json_folder(Path(results_dir) / store.YARDSTICK_DIR, "yardstick file")]


def result_line(record: dict) -> str:
    return (
        f"airbench94 (package) seed {record['seed']}: {100 * record['test_accuracy']:.2f} % test accuracy "
        f"(with test-time augmentation) in {record['train_seconds']:.2f} s on {record['device_name']}"
    )

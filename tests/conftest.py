"""Shared test helpers: small datasets written in the official layouts, and the real shared copy."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import multiprocessing
import os
import pickle
import shutil
import tarfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bench import frameworks
from bench.data import cifar
from bench.frameworks import framework as framework_record
from bench.spec import registry

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ARCHIVE = REPO_ROOT.parent / "shared" / "datasets" / cifar.JPEG_ARCHIVE

# Tests of what a machine without a GPU is told; on a machine with one (nvidia-smi present) their premise is false.
requires_no_gpu = pytest.mark.skipif(
    shutil.which("nvidia-smi") is not None, reason="GPU PRESENT, SKIPPED: this test needs a machine without a GPU"
)
requires_shared_cifar10 = pytest.mark.skipif(
    not SHARED_ARCHIVE.exists(), reason=f"REAL-DATA TEST SKIPPED: the shared CIFAR-10 copy {SHARED_ARCHIVE} is absent"
)


def official_files(name: str, per_file: int = 30, seed: int = 0) -> dict[str, bytes]:
    """The files of the official python layout of `name`, tiny, pickled as the originals are."""
    layout = cifar.OFFICIAL[name]
    rng = np.random.default_rng(seed)
    num_classes = 10 if name == "cifar10" else 100
    files = {}
    for file_name in (*layout.train_files, *layout.test_files):
        batch = {
            "data": rng.integers(0, 256, (per_file, 3072), dtype=np.uint8),
            layout.label_key: rng.integers(0, num_classes, per_file).tolist(),
        }
        if name == "cifar100":
            batch["coarse_labels"] = rng.integers(0, 20, per_file).tolist()
        files[file_name] = pickle.dumps(batch, protocol=2)
    names = cifar.CIFAR10_CLASSES if name == "cifar10" else [f"fine_{i}" for i in range(100)]
    files[layout.meta_file] = pickle.dumps({layout.names_key: list(names)}, protocol=2)
    return files


def write_official_dir(root: Path, name: str, **kwargs) -> Path:
    folder = root / cifar.OFFICIAL[name].folder
    folder.mkdir(parents=True)
    for file_name, payload in official_files(name, **kwargs).items():
        (folder / file_name).write_bytes(payload)
    return folder


def write_code_running_batch(folder: Path, file_name: str, marker: Path) -> None:
    """Replace one batch with a pickle that would create `marker` if it were ever unpickled."""

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / file_name).write_bytes(pickle.dumps({"data": Exploit(), "labels": []}))


def write_official_archive(root: Path, name: str, **kwargs) -> Path:
    layout = cifar.OFFICIAL[name]
    root.mkdir(parents=True, exist_ok=True)
    path = root / layout.archive
    with tarfile.open(path, "w:gz") as archive:
        for file_name, payload in official_files(name, **kwargs).items():
            info = tarfile.TarInfo(f"{layout.folder}/{file_name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def write_jpeg_archive(root: Path, per_class: int = 3, sidecar: bool = True) -> Path:
    """A miniature of the shared JPEG copy: same layout, random pixels, with its .sha256 file."""
    from PIL import Image

    rng = np.random.default_rng(1)
    path = root / cifar.JPEG_ARCHIVE
    with tarfile.open(path, "w:gz") as archive:
        for split in ("test", "train"):
            for class_name in cifar.CIFAR10_CLASSES:
                for i in range(per_class):
                    buffer = io.BytesIO()
                    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(buffer, format="JPEG", quality=75)
                    info = tarfile.TarInfo(f"cifar10-jpeg/{split}/{class_name}/{i:04d}.jpg")
                    info.size = buffer.tell()
                    buffer.seek(0)
                    archive.addfile(info, buffer)
    if sidecar:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return path


# `pytest --benchmark-only` times these models' epochs unless --benchmark-models says otherwise: a small, a deep
# and a residual network, each framework, in a few minutes on 2 cores (README, `pytest --benchmark-only`).
def leaderboard_text(records: list[dict], plot_files: list[str] = (), package_runs: list[dict] = ()) -> str:
    """The leaderboard `bench report` would write for `records`, as text."""
    from bench.report import markdown, tables

    return (
        markdown.leaderboard_markdown(*tables.derived(records, package_runs), plot_files)
        if records
        else markdown.NO_RESULTS
    )


def details_text(records: list[dict], plot_files: list[str] = (), package_runs: list[dict] = ()) -> str:
    """details.md as `bench report` would write it for `records`."""
    from bench.report import details, tables

    return details.details_markdown(*tables.derived(records, package_runs), plot_files)


QUICK_BENCHMARK_MODELS = ("r2_vanilla_cnn", "r3_deep_cnn", "resnet18")
QUICK_BENCHMARK_MINUTES = "3.5"  # measured here: 206 s of pytest under `nox -s benchmark`, 2 cores, 2026-12-03


def honoured_part(framework: str, execution):
    """`execution` with every option that `framework` does not honour back at its default (the fastest options
    one framework has, from a list meant for all)."""
    others = [
        option for option in dataclasses.fields(execution) if option.name not in framework_record(framework).honoured
    ]
    return dataclasses.replace(execution, **{option.name: option.default for option in others})


def epoch_benchmark_name(model: str, framework: str, settings: dict) -> str:
    """'resnet18[keras-tensorflow]': the model, its framework and keras backend, as pytest-benchmark's table
    names it."""
    backend = settings.get("backend")
    return f"{model}[{framework}{'-' + backend if backend else ''}]"


def pytest_addoption(parser):
    parser.addoption(
        "--benchmark-models",
        default="quick",
        metavar="quick|all|M1,M2",
        help=f"models whose per-model benchmarks are timed: quick ({', '.join(QUICK_BENCHMARK_MODELS)}; "
        f"default), all, or a comma-separated list",
    )


def timed_models(config) -> set[str] | None:
    """The models whose per-model benchmarks run when benchmarks are timed; None: every model."""
    chosen = config.getoption("benchmark_models")
    return None if chosen == "all" else set(QUICK_BENCHMARK_MODELS if chosen == "quick" else chosen.split(","))


def pytest_report_header(config):
    if config.getoption("benchmark_disable", False):
        return None
    models = timed_models(config)
    if models is None:
        return "cnnbench benchmarks: every model (--benchmark-models all)"
    quick = models == set(QUICK_BENCHMARK_MODELS)
    return (
        f"cnnbench benchmarks: per-model epochs of {', '.join(sorted(models))}"
        + (f" (the quick set, about {QUICK_BENCHMARK_MINUTES} min on 2 CPU cores)" if quick else "")
        + "; --benchmark-models all times every model"
    )


def pytest_collection_modifyitems(config, items):
    """Where benchmarks are timed, leave out per-model benchmarks of models outside --benchmark-models."""
    models = None if config.getoption("benchmark_disable", False) else timed_models(config)
    if models is None:
        return
    unknown = models - set(registry.model_names())
    if unknown:
        raise pytest.UsageError(f"--benchmark-models: unknown model {', '.join(sorted(unknown))}")
    kept, left_out = [], []
    for item in items:
        model = getattr(item, "callspec", None) and item.callspec.params.get("model")
        timed = "benchmark" in getattr(item, "fixturenames", ())
        (left_out if timed and model and model not in models else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session")
def session_calibrations(tmp_path_factory) -> Path:
    """The machine's calibrations, measured once per test session (each costs a framework process)."""
    return tmp_path_factory.mktemp("calibration")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch, request, session_calibrations):
    """Each test decodes into its own cache, except the real-data tests, which share the user cache. No test
    downloads a dataset (CNNBENCH_OFFLINE).

    The calibrations in it are the session's: a sweep's calibration is a fact of this machine, not the subject
    of a test (the one test of the calibration cache names a cache of its own)."""
    if "real_data" not in request.keywords:
        monkeypatch.setenv("CNNBENCH_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        (tmp_path / "cache").mkdir()
        (tmp_path / "cache" / "calibration").symlink_to(session_calibrations, target_is_directory=True)
    monkeypatch.delenv("CNNBENCH_DATA", raising=False)
    monkeypatch.setenv("CNNBENCH_OFFLINE", "1")  # no test reaches the internet; the download test serves its own
    monkeypatch.setenv("CNNBENCH_INFERENCE_SECONDS", "0")  # each trial's inference: the fewest calls it takes


FRAMEWORKS = [
    pytest.param(
        fw,
        marks=pytest.mark.skipif(
            bool(frameworks.missing_framework(fw)), reason=f"FRAMEWORK SKIPPED: {frameworks.missing_framework(fw)}"
        ),
    )
    for fw in frameworks.FRAMEWORKS
]


@pytest.fixture(scope="session")
def framework_processes():
    """One spawned process per framework, reused by every test (see tests/framework_jobs.py)."""
    context = multiprocessing.get_context("spawn")
    before = multiprocessing.active_children()
    pools = {fw: ProcessPoolExecutor(max_workers=1, mp_context=context) for fw in frameworks.FRAMEWORKS}
    yield pools
    workers = [process for process in multiprocessing.active_children() if process not in before]
    for pool in pools.values():
        pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:  # a framework with many models built takes half a minute to exit on its own;
        process.kill()  # nothing in it is needed any more


@pytest.fixture
def in_framework(framework, framework_processes):
    """Call `in_framework(job, *args)` to run tests/framework_jobs.job(framework, *args) in that framework's process."""

    def call(job, *args):
        return framework_processes[framework].submit(job, framework, *args).result(timeout=600)

    return call


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance for the whole session (Ray cannot start again in a process once shut down)."""
    ray = pytest.importorskip("ray", reason="RAY SKIPPED: ray is not installed")
    from bench.run.ray_executor import TIMED_CPU

    ray.init(num_cpus=2, resources={TIMED_CPU: 1}, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()

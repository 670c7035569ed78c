"""CIFAR-10/100 as uint8 NHWC numpy arrays, from whichever copy is found, plus the fixed-seed split.

Sources: an explicit `--data-dir` alone (used or refused, never replaced by another copy); otherwise
the first of `$CNNBENCH_DATA`, `../shared/datasets`, then the download caches, else a download of the official
archive (unless offline). Within a directory: the official python layout (`cifar-10-batches-py/`), the
official archive (`cifar-10-python.tar.gz`), then the JPEG copy (`cifar10-jpeg.tar.gz`). Official pickles are
read with an unpickler that refuses every class but numpy's array reconstruction, so a hostile file cannot run
code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tarfile
import urllib.request
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.paths import PROJECT_ROOT, portable
from bench.spec.recipes import DEFAULT_VAL_SIZE

SPLIT_SEED = 42  # fixes the train/val split and the train subset for every trial and framework

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The shared JPEG copy (see ../shared/datasets/README.md); its digest when no .sha256 file sits beside it.
JPEG_ARCHIVE = "cifar10-jpeg.tar.gz"
JPEG_SHA256 = "a20f75dab73b9c5c6f54e35c84da477e385f34a4615399fdbaef48b0e1e1c437"

# Per-channel mean and std of the training images, on the 0..1 scale.
NORMALISATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "synthetic": ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
}
IMAGENET_NORMALISATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # what pretrained weights expect


@dataclass(frozen=True)
class OfficialLayout:
    """Where the official python release keeps its batches and label names."""

    title: str
    folder: str
    archive: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    meta_file: str
    label_key: str
    names_key: str
    url: str  # the official archive, fetched when no copy is found (torchvision's and keras's URL)
    md5: str  # its published checksum


OFFICIAL = {
    "cifar10": OfficialLayout(
        "CIFAR-10",
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "batches.meta",
        "labels",
        "label_names",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
    "cifar100": OfficialLayout(
        "CIFAR-100",
        "cifar-100-python",
        "cifar-100-python.tar.gz",
        ("train",),
        ("test",),
        "meta",
        "fine_labels",
        "fine_label_names",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
    ),
}
CLASS_COUNTS = {"cifar10": 10, "cifar100": 100}
DATASETS = ("cifar10", "cifar100", "folder", "synthetic")  # folder: an image folder, --data-dir PATH


@dataclass(frozen=True)
class Cifar:
    """A whole dataset as loaded: uint8 images (N, height, width, 3), int64 labels, and where it came from."""

    name: str
    label: str  # shown in every table row, e.g. "CIFAR-10 (JPEG q75 copy)"
    source: str
    sha256: str
    class_names: tuple[str, ...]
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @cached_property
    def images_sha256(self) -> str:
        """The sha256 of the decoded images and labels, train then test: the same for the same images whichever
        file layout they were read from (the JPEG archive, or its image folder), unlike `sha256`."""
        digest = hashlib.sha256()
        for array in (self.train_x, self.train_y, self.test_x, self.test_y):
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


@dataclass(frozen=True)
class Splits:
    """Train / validation / test arrays for one trial; test is scored once, at the end."""

    dataset: Cifar
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


# ---------------------------------------------------------------- lookup


def cache_dir() -> Path:
    """Where decoded arrays and downloads go: $CNNBENCH_CACHE, else the user cache directory."""
    if os.environ.get("CNNBENCH_CACHE"):
        return Path(os.environ["CNNBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnnbench"


def search_dirs() -> list[tuple[str, Path]]:
    """The directories searched for a dataset without --data-dir, in order, each with where it came from."""
    dirs = []
    if os.environ.get("CNNBENCH_DATA"):
        dirs.append(("$CNNBENCH_DATA", Path(os.environ["CNNBENCH_DATA"])))
    dirs.append(("../shared/datasets", Path.cwd().parent / "shared" / "datasets"))
    dirs.append(("../shared/datasets", PROJECT_ROOT.parent / "shared" / "datasets"))
    dirs.append(("download cache", cache_dir() / "downloads"))
    dirs.append(("keras cache", Path.home() / ".keras" / "datasets"))
    unique, seen = [], set()
    for origin, path in dirs:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((origin, path))
    return unique


def _candidates(name: str, directory: Path) -> list[tuple[str, Path]]:
    layout = OFFICIAL[name]
    found = [("official-dir", directory / layout.folder), ("official-tar", directory / layout.archive)]
    if name == "cifar10":
        found.append(("jpeg-tar", directory / JPEG_ARCHIVE))
    return found + [("image-folder", directory / "train")]  # the images as files, train/<class>/ (and test/)


def find_source(name: str, data_dir=None) -> tuple[str, Path]:
    """The first copy of dataset `name` in lookup order, as (kind, path); BenchError naming all places.
    An explicit `data_dir` is the only place looked: used or refused, never silently replaced."""
    if data_dir:
        directory = Path(data_dir)
        if not directory.is_dir():
            raise BenchError(f"--data-dir {data_dir} is not a directory")
        for kind, path in _candidates(name, directory):
            if path.exists():
                return kind, path
        names = ", ".join(path.name for _, path in _candidates(name, directory))
        raise BenchError(f"--data-dir {data_dir} holds no {OFFICIAL[name].title} (looked for {names})")
    looked = []
    for origin, directory in search_dirs():
        for kind, path in _candidates(name, directory):
            if path.exists():
                return kind, path
        looked.append(f"{origin} ({directory})")
    raise BenchError(
        f"{OFFICIAL[name].title} not found; looked in: {'; '.join(looked)}. "
        f"Pass --data-dir, set CNNBENCH_DATA, or run without --offline (CNNBENCH_OFFLINE) to download it"
    )


def is_offline(offline: bool = False) -> bool:
    """Whether downloads are refused: `--offline`, or $CNNBENCH_OFFLINE set to anything but empty or 0."""
    return offline or os.environ.get("CNNBENCH_OFFLINE", "") not in ("", "0")


def load(name: str, data_dir=None, offline: bool = False, image_size: int | None = None) -> Cifar:
    """Load dataset `name` (cifar10 | cifar100 | folder | synthetic) from the first copy found; with none found
    (and no explicit `data_dir`), download the official archive into the cache unless offline. An image folder
    is resized to `image_size` (default: see bench.data.folder)."""
    if name == "synthetic":
        _refuse_resize(image_size, name)
        return synthetic()
    if name == "folder":
        if not data_dir:
            raise BenchError("--dataset folder reads the image folder given as --data-dir PATH (PATH/train/<class>/)")
        return _load_image_folder(name, Path(data_dir), image_size)
    if name not in OFFICIAL:
        raise BenchError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    try:
        kind, path = find_source(name, data_dir)
    except BenchError:
        if data_dir or is_offline(offline):
            raise
        kind, path = "official-tar", download_official(name, cache_dir() / "downloads")
    if kind == "jpeg-tar":
        _refuse_resize(image_size, name)
        return _load_jpeg_archive(path)
    if kind == "image-folder":
        return _load_image_folder(name, path.parent, image_size)
    _refuse_resize(image_size, name)
    return _load_official(name, path)


def _refuse_resize(image_size: int | None, name: str) -> None:
    """--image-size resizes image folders only (CIFAR's archives are 32x32, synthetic data too)."""
    if image_size and image_size != 32:
        raise BenchError(f"--image-size resizes an image folder's images; {name} here is 32x32 (leave it out)")


# ---------------------------------------------------------------- image folders


def _load_image_folder(name: str, root: Path, image_size: int | None) -> Cifar:
    """An image folder (bench.data.folder) as a dataset, decoded once and cached by its content's sha256. For
    cifar10 and cifar100 its class folders must be the official classes."""
    from bench.data import folder

    train_files, test_files = folder.layout(root)
    classes = list(train_files)
    if name in OFFICIAL and (
        len(classes) != CLASS_COUNTS[name] or name == "cifar10" and tuple(classes) != CIFAR10_CLASSES
    ):
        raise BenchError(f"{root}/train's {len(classes)} class folders are not {OFFICIAL[name].title}'s classes")
    files = {"train": train_files, "test": test_files}
    digest, common = folder.identity(root, files, cache_dir())
    size = image_size or (common[0] if common and common[0] == common[1] else folder.DEFAULT_IMAGE_SIZE)
    cached = cache_dir() / f"folder-{digest[:16]}-{size}.npz"
    arrays = _read_cache(cached)
    if arrays is None:
        train_x, train_y = folder.decode_split(train_files, classes, size)
        if test_files:
            arrays = dict(zip(("train_x", "train_y"), (train_x, train_y)))
            arrays["test_x"], arrays["test_y"] = folder.decode_split(test_files, classes, size)
        else:
            arrays = dict(
                zip(("train_x", "train_y", "test_x", "test_y"), folder.held_out_test(train_x, train_y, classes, root))
            )
        _write_cache(cached, arrays)
    title = OFFICIAL[name].title if name in OFFICIAL else root.name
    label = f"{title} (image folder {root.name}, sha256 {digest[:12]}, {size}x{size}{_resize_note(common, size)})"
    return Cifar(name, label, portable(root), digest, tuple(classes), **arrays)


def _resize_note(common: tuple[int, int] | None, size: int) -> str:
    """How the images were resized, for the dataset's label: '' where they were not."""
    if common == (size, size):
        return ""
    return f", resized from {common[0]}x{common[1]}" if common else ", resized from mixed sizes"


def normalisation(dataset: Cifar) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of pixel / 255: CIFAR's published figures, else the training images'."""
    if dataset.name in NORMALISATION:
        return NORMALISATION[dataset.name]
    total, squares, count = 0.0, 0.0, 0
    for start in range(0, len(dataset.train_x), 1000):  # in chunks: a float copy of large images is large
        pixels = dataset.train_x[start : start + 1000].reshape(-1, dataset.train_x.shape[-1]) / 255.0
        total, squares, count = total + pixels.sum(0), squares + (pixels**2).sum(0), count + len(pixels)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return tuple(float(m) for m in mean), tuple(float(max(s, 1e-3)) for s in std)


# ---------------------------------------------------------------- the JPEG copy


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _expected_sha256(path: Path) -> str:
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists():
        return sidecar.read_text().split()[0]
    return JPEG_SHA256


def _load_jpeg_archive(path: Path) -> Cifar:
    try:
        digest = sha256_of(path)
    except OSError as err:
        raise BenchError(f"cannot read dataset archive {path}: {err.strerror}") from None
    if digest != _expected_sha256(path):
        raise BenchError(
            f"dataset archive {path} is corrupt or not the expected file "
            f"(sha256 {digest[:16]}..., expected {_expected_sha256(path)[:16]}...)"
        )
    cached = cache_dir() / f"cifar10-jpeg-{digest[:16]}.npz"
    arrays = _read_cache(cached)
    if arrays is None:
        arrays = _decode_jpeg_archive(path)
        _write_cache(cached, arrays)
    return Cifar("cifar10", "CIFAR-10 (JPEG q75 copy)", portable(path), digest, CIFAR10_CLASSES, **arrays)


def _decode_jpeg_archive(path: Path) -> dict[str, np.ndarray]:
    from PIL import Image

    images = {"train": [], "test": []}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                parts = member.name.split("/")
                if not (member.isfile() and member.name.endswith(".jpg") and len(parts) == 4):
                    continue
                _, split, class_name, file_name = parts
                if split not in images or class_name not in CIFAR10_CLASSES:
                    raise BenchError(f"unexpected file {member.name} in {path}")
                data = archive.extractfile(member).read()
                pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.uint8)
                images[split].append((CIFAR10_CLASSES.index(class_name), file_name, pixels))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise BenchError(f"dataset archive {path} is unreadable: {err}") from None
    arrays = {}
    for split, items in images.items():
        if not items:
            raise BenchError(f"dataset archive {path} has no {split} images")
        items.sort(key=lambda item: (item[0], item[1]))
        arrays[f"{split}_x"] = np.stack([pixels for _, _, pixels in items])
        arrays[f"{split}_y"] = np.array([label for label, _, _ in items], dtype=np.int64)
    return arrays


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in ("train_x", "train_y", "test_x", "test_y")}
    except (OSError, KeyError, ValueError, zlib.error):
        return None  # absent or damaged: decode again


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(partial, path)
    except OSError:
        pass  # an unwritable cache only costs a decode next time


# ---------------------------------------------------------------- the official python layout


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings and numpy arrays; refuses every other class or function."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
    }

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def read_batch(data: bytes, origin: str) -> dict:
    """Parse one official CIFAR pickle (a dict) without letting it run code; keys become str."""
    try:
        batch = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as err:  # any malformed or hostile pickle
        raise BenchError(f"refused or unreadable dataset file {origin}: {err}") from None
    if not isinstance(batch, dict):
        raise BenchError(f"dataset file {origin} is not a CIFAR batch")
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in batch.items()}


def _official_files(path: Path, names: list[str]) -> dict[str, bytes]:
    """The named batch files' bytes, from the extracted folder or straight from the .tar.gz."""
    try:
        if path.is_dir():
            return {name: (path / name).read_bytes() for name in names}
        with tarfile.open(path, "r:gz") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            return {name: archive.extractfile(members[name]).read() for name in names}
    except KeyError as err:
        raise BenchError(f"dataset {path} lacks the file {err.args[0]}") from None
    except (OSError, tarfile.TarError, EOFError, zlib.error) as err:
        raise BenchError(f"dataset {path} is unreadable: {err}") from None


def _load_official(name: str, path: Path) -> Cifar:
    layout = OFFICIAL[name]
    names = [*layout.train_files, *layout.test_files, layout.meta_file]
    files = _official_files(path, names)
    digest = hashlib.sha256(b"".join(files[n] for n in names)).hexdigest()

    def stack(file_names):
        batches = [read_batch(files[n], f"{path}/{n}") for n in file_names]
        try:
            x = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
            y = np.concatenate([np.asarray(b[layout.label_key], dtype=np.int64) for b in batches])
            return x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), y
        except (KeyError, ValueError) as err:
            raise BenchError(f"dataset {path} has malformed batches: {err}") from None

    train_x, train_y = stack(layout.train_files)
    test_x, test_y = stack(layout.test_files)
    meta = read_batch(files[layout.meta_file], f"{path}/{layout.meta_file}")
    class_names = tuple(n.decode() if isinstance(n, bytes) else n for n in meta[layout.names_key])
    return Cifar(
        name, f"{layout.title} (official python)", portable(path), digest, class_names, train_x, train_y, test_x, test_y
    )


def download_official(name: str, root: Path) -> Path:
    """Download the official archive into `root`, with a progress bar on a terminal, and check its md5 before
    it takes the archive's name (an interrupted or corrupt download is never found as a copy); return its path."""
    from tqdm import tqdm

    layout = OFFICIAL[name]
    target = root / layout.archive
    partial = target.with_name(target.name + ".part")
    print(
        f"{layout.title} not found: downloading {layout.url} into {portable(root)} (--offline refuses)",
        file=sys.stderr,
        flush=True,
    )
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    try:
        with (
            urllib.request.urlopen(layout.url, timeout=60) as response,
            open(partial, "wb") as out,
            tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None,
                unit="B",
                unit_scale=True,
                desc=layout.archive,
                disable=None,
            ) as bar,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    except (OSError, ValueError) as err:  # URLError, HTTP errors and timeouts are OSErrors
        partial.unlink(missing_ok=True)
        raise BenchError(f"download of {layout.url} failed: {err} (pass --data-dir to use a copy you have)") from None
    if digest.hexdigest() != layout.md5:
        partial.unlink()
        raise BenchError(f"download of {layout.url} is corrupt: md5 {digest.hexdigest()}, expected {layout.md5}")
    partial.replace(target)
    return target


# ---------------------------------------------------------------- synthetic data and the split


def synthetic(num_classes: int = 10, train: int = 5000, test: int = 1000, seed: int = 0) -> Cifar:
    """Random images for timing only; every row made from it says SYNTHETIC."""
    rng = np.random.default_rng(seed)
    names = CIFAR10_CLASSES if num_classes == 10 else tuple(f"class_{i}" for i in range(num_classes))
    return Cifar(
        "synthetic",
        "SYNTHETIC (timing only)",
        "generated",
        f"synthetic-seed{seed}",
        names,
        rng.integers(0, 256, (train, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, num_classes, train).astype(np.int64),
        rng.integers(0, 256, (test, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, num_classes, test).astype(np.int64),
    )


def _balanced_take(labels: np.ndarray, order: np.ndarray, count: int, names: tuple[str, ...], what: str) -> np.ndarray:
    """Positions from `order` (already shuffled), `count` in all, as equal per class as possible; a class with
    too few images for `what` is named."""
    classes = np.unique(labels)
    per_class = np.full(len(classes), count // len(classes))
    per_class[: count % len(classes)] += 1
    taken = [order[labels[order] == c][:k] for c, k in zip(classes, per_class)]
    for c, k, kept in zip(classes, per_class, taken):
        if len(kept) < k:
            raise BenchError(
                f"class {names[c]!r} has {len(kept)} image(s) here; {what} of {count} takes {k} of each class"
            )
    return np.sort(np.concatenate(taken))


def split(
    dataset: Cifar,
    val_size: int = DEFAULT_VAL_SIZE,
    train_subset: int | None = None,
    seed: int = SPLIT_SEED,
    test_subset: int | None = None,
) -> Splits:
    """Fixed-seed, class-balanced train/val split; optionally class-balanced train and test subsets
    (a test subset only to fit a small budget; every row says how many test images it scored)."""
    total = len(dataset.train_y)
    if not 0 <= val_size < total:
        raise BenchError(f"--val-size {val_size} must be between 0 and {total - 1}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(total)
    names = dataset.class_names
    val_idx = (
        _balanced_take(dataset.train_y, order, val_size, names, "the validation split (--val-size)")
        if val_size
        else np.array([], int)
    )
    train_idx = np.setdiff1d(np.arange(total), val_idx)
    if train_subset is not None:
        if train_subset > len(train_idx):
            raise BenchError(
                f"--train-subset {train_subset} is larger than the training split ({len(train_idx)} images)"
            )
        if train_subset < dataset.num_classes:
            raise BenchError(
                f"--train-subset {train_subset} is fewer images than the {dataset.num_classes} "
                f"classes: a class-balanced subset needs at least one image of each"
            )
        sub_order = train_idx[rng.permutation(len(train_idx))]
        train_idx = _balanced_take(dataset.train_y, sub_order, train_subset, names, "--train-subset")
    test_idx = np.arange(len(dataset.test_y))
    if test_subset is not None:
        if test_subset > len(test_idx):
            raise BenchError(f"test subset {test_subset} is larger than the test set ({len(test_idx)} images)")
        test_idx = _balanced_take(dataset.test_y, rng.permutation(len(test_idx)), test_subset, names, "the test subset")
    return Splits(
        dataset,
        dataset.train_x[train_idx],
        dataset.train_y[train_idx],
        dataset.train_x[val_idx],
        dataset.train_y[val_idx],
        dataset.test_x[test_idx],
        dataset.test_y[test_idx],
    )

"""Image folders as a dataset (`--dataset folder --data-dir PATH`), in the layout torchvision's ImageFolder and
keras's `image_dataset_from_directory` read: `PATH/train/<class>/*` and, if present, `PATH/test/<class>/*`
(else a fixed, class-balanced share of each class is held out as the test set).

Every format Pillow reads; grey, palette and RGBA images become RGB. Images are resized (bilinear, Pillow's
antialiasing) to `image_size`, by default their common size where they share a square one, else 32; every
row says so. The dataset's identity is its folder name and the sha256 of its file list and contents; the
decoded uint8 arrays are cached under that hash, and the hash under the files' sizes and modification
times. Bad data is one BenchError naming the file or folder, before anything trains; a decompression bomb is
refused by Pillow's pixel limit, never decoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.errors import BenchError

DEFAULT_IMAGE_SIZE = 32
TEST_SHARE = 0.2  # of each class's images, held out as the test set where the folder has no test/
SPLIT_SEED = 42


def image_suffixes() -> set[str]:
    """The file name endings Pillow can open (.png, .jpg, .jpeg, .bmp, .gif, .tif, .webp, ...)."""
    from PIL import Image

    return {suffix.lower() for suffix in Image.registered_extensions()}


def class_files(split_dir: Path) -> dict[str, list[Path]]:
    """Each class folder of `split_dir` and its image files, sorted; an empty class or none is refused."""
    if not split_dir.is_dir():
        raise BenchError(f"{split_dir} is not a folder: an image folder has train/<class>/ images")
    classes = sorted(
        entry for entry in split_dir.iterdir() if entry.is_dir() and not entry.name.startswith((".", "__MACOSX"))
    )
    if not classes:
        raise BenchError(f"{split_dir} has no class folders: put each class's images in {split_dir}/<class>/")
    suffixes = image_suffixes()
    found = {}
    for folder in classes:
        files = sorted(
            path
            for path in folder.iterdir()
            if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith(".")  # macOS ._x.jpg
        )
        if not files:
            raise BenchError(f"class folder {folder} holds no images ({', '.join(sorted(suffixes)[:6])}, ...)")
        found[folder.name] = files
    return found


def layout(root: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]] | None]:
    """The train and (None where absent) test class files of the folder at `root`, their classes equal."""
    if not root.is_dir():
        raise BenchError(f"--data-dir {root} is not a folder")
    train = class_files(root / "train")
    if not (root / "test").exists():
        return train, None
    test = class_files(root / "test")
    if set(test) != set(train):
        only_train, only_test = sorted(set(train) - set(test)), sorted(set(test) - set(train))
        raise BenchError(
            f"{root}: train and test have different class folders (only in train: {', '.join(only_train) or '-'}; "
            f"only in test: {', '.join(only_test) or '-'})"
        )
    return train, test


def _paths(splits: dict[str, dict[str, list[Path]] | None]) -> Iterator[Path]:
    """Every image file of the splits, split by split and class by class, in order."""
    for files in splits.values():
        for paths in (files or {}).values():
            yield from paths


def identity(root: Path, splits: dict[str, dict[str, list[Path]] | None], cache: Path) -> tuple[str, tuple | None]:
    """The folder's content sha256 and its images' common (width, height), None where they differ. Both are
    remembered in `cache` under a signature of every file's path, size and modification time (as git's index
    does), so the trials of a sweep do not each read every file again; a changed file changes the signature."""
    signature = hashlib.sha256()
    for path in _paths(splits):
        stat = path.stat()
        signature.update(f"{path.relative_to(root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    memo = cache / f"folder-identity-{signature.hexdigest()[:16]}.json"
    try:
        known = json.loads(memo.read_text())
        return known["sha256"], tuple(known["common_size"]) if known["common_size"] else None
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not seen yet, or a damaged memo: read the files
    digest, common = content_sha256(root, splits), common_size(splits)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        partial = memo.with_name(f".{memo.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps({"sha256": digest, "common_size": common}))
        os.replace(partial, memo)
    except OSError:
        pass  # an unwritable cache only costs reading the files next time
    return digest, common


def content_sha256(root: Path, splits: dict[str, dict[str, list[Path]] | None]) -> str:
    """The sha256 of every file's path (relative to `root`) and bytes, in order: the dataset's identity."""
    digest = hashlib.sha256()
    for path in _paths(splits):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def common_size(splits: dict[str, dict[str, list[Path]] | None]) -> tuple[int, int] | None:
    """The (width, height) every image shares, from the files' headers; None where they differ."""
    from PIL import Image

    sizes = set()
    for path in _paths(splits):
        with _refusing_unreadable(path), Image.open(path) as image:
            sizes.add(image.size)
        if len(sizes) > 1:
            return None
    return sizes.pop() if sizes else None


@contextlib.contextmanager
def _refusing_unreadable(path: Path):
    """Within it, an unreadable or truncated image at `path`, or a decompression bomb (Pillow's pixel-limit
    warning raised as an error: refused, not decoded), is one BenchError naming the file."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BenchError(f"unreadable image {path}: {err}") from None


def decode(path: Path, size: int) -> np.ndarray:
    """The image at `path` as RGB uint8 (size, size, 3), resized where it is another size."""
    from PIL import Image

    with _refusing_unreadable(path), Image.open(path) as image:
        rgb = image.convert("RGB")
        if rgb.size != (size, size):
            rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def decode_split(files: dict[str, list[Path]], classes: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every image of a split, class by class in file-name order, and its labels (the index in `classes`)."""
    images = [decode(path, size) for name in classes for path in files[name]]
    labels = [index for index, name in enumerate(classes) for _ in files[name]]
    return np.stack(images), np.array(labels, dtype=np.int64)


def held_out_test(train_x: np.ndarray, train_y: np.ndarray, classes: list[str], root: Path) -> tuple[np.ndarray, ...]:
    """A fixed, class-balanced test set out of the training images: TEST_SHARE of the smallest class, as many
    of each class (seeded); refused where a class has too few images to leave some for training."""
    counts = np.bincount(train_y, minlength=len(classes))
    per_class = int(counts.min() * TEST_SHARE)
    if per_class < 1:
        smallest = classes[int(counts.argmin())]
        raise BenchError(
            f"class {smallest!r} of {root}/train has {counts.min()} image(s): with no test/ folder, "
            f"{TEST_SHARE:.0%} of each class is held out for testing, which needs at least "
            f"{int(np.ceil(1 / TEST_SHARE))} per class"
        )
    order = np.random.default_rng(SPLIT_SEED).permutation(len(train_y))
    test_idx = np.sort(np.concatenate([order[train_y[order] == c][:per_class] for c in range(len(classes))]))
    keep = np.setdiff1d(np.arange(len(train_y)), test_idx)
    return train_x[keep], train_y[keep], train_x[test_idx], train_y[test_idx]

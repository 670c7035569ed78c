"""Image folders as a dataset (bench.data.folder, `--dataset folder`): the layout, resizing, the cache, every
kind of bad data refused in one line naming the file, and the shared CIFAR-10 copy read as a folder."""

from __future__ import annotations

import json
import shutil
import tarfile

import numpy as np
import pytest
from PIL import Image

from bench.data import cifar
from bench.errors import BenchError
from tests.conftest import REPO_ROOT, requires_shared_cifar10
from tests.test_cli import assert_one_line_error, bench

CLASSES = ("cats", "dogs", "ferns")


def make_folder(root, size=48, train=12, test=3, grey=True):
    """A generated image folder: 3 classes of `size` x `size` PNGs, each class tinted its own colour, the
    first training image grey."""
    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 128, (size, size, 3), dtype=np.uint8)
                pixels[..., label] += 127
                image = Image.fromarray(pixels)
                if grey and split == "train" and label == 0 and index == 0:
                    image = image.convert("L")
                image.save(root / split / name / f"{index:03d}.png")
    return root


def test_a_folder_loads_at_its_common_size_with_its_classes_and_is_cached(tmp_path, monkeypatch):
    from bench.data import folder

    root = make_folder(tmp_path / "pets")
    dataset = cifar.load("folder", root)
    assert dataset.class_names == CLASSES and dataset.num_classes == 3
    assert dataset.train_x.shape == (36, 48, 48, 3) and dataset.test_x.shape == (9, 48, 48, 3)
    assert list(np.bincount(dataset.train_y)) == [12, 12, 12]
    assert dataset.train_x[0, ..., 0].tolist() == dataset.train_x[0, ..., 2].tolist()  # grey became RGB
    assert dataset.label.startswith(f"pets (image folder pets, sha256 {dataset.sha256[:12]}, 48x48")
    (cached,) = (tmp_path / "cache").glob("folder-*-48.npz")  # the test's own cache (conftest)
    with monkeypatch.context() as reading:  # the arrays and the folder's identity come from the cache
        reading.setattr(folder, "content_sha256", None)
        reading.setattr(folder, "decode_split", None)
        again = cifar.load("folder", root)
    assert np.array_equal(again.train_x, dataset.train_x) and again.label == dataset.label
    shutil.copy(root / "train" / "cats" / "001.png", root / "train" / "cats" / "000.png")
    assert cifar.load("folder", root).sha256 != dataset.sha256  # other contents, another dataset
    (root / "train" / "cats" / "000.png").unlink()
    assert cifar.load("folder", root).sha256 != dataset.sha256


def test_resizing_is_stated_and_a_folder_without_test_holds_out_a_balanced_share(tmp_path):
    root = make_folder(tmp_path / "pets")
    shutil.rmtree(root / "test")
    dataset = cifar.load("folder", root, image_size=32)
    assert dataset.train_x.shape[1:] == (32, 32, 3) and dataset.label.endswith("32x32, resized from 48x48)")
    assert list(np.bincount(dataset.test_y)) == [2, 2, 2] and len(dataset.train_y) == 30  # 20 % of 12, each
    with pytest.raises(BenchError, match="--image-size resizes an image folder's images; synthetic"):
        cifar.load("synthetic", image_size=48)


def _truncated(root):
    path = root / "train" / "dogs" / "003.png"
    path.write_bytes(path.read_bytes()[:200])
    return f"unreadable image {path}: image file is truncated"


def _empty_class(root):
    (root / "train" / "empty").mkdir()
    return f"class folder {root / 'train' / 'empty'} holds no images"


def _other_classes(root):
    (root / "test" / "ferns").rename(root / "test" / "fern")
    return "train and test have different class folders (only in train: ferns; only in test: fern)"


def _no_classes(root):
    shutil.rmtree(root / "train")
    (root / "train").mkdir()
    return f"{root / 'train'} has no class folders"


def _bomb(root):
    path = root / "train" / "dogs" / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 megapixels in a few kilobytes
    return f"unreadable image {path}: Image size (400000000 pixels) exceeds limit"


@pytest.mark.parametrize("spoil", [_truncated, _empty_class, _other_classes, _no_classes, _bomb])
def test_bad_data_is_refused_naming_the_file(tmp_path, spoil):
    root = make_folder(tmp_path / "pets", grey=False)
    message = spoil(root)
    with pytest.raises(BenchError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cifar.split(cifar.load("folder", root), val_size=3)


def test_a_class_too_small_for_the_split_is_named(tmp_path):
    root = make_folder(tmp_path / "pets", grey=False)
    for path in sorted((root / "train" / "ferns").glob("*.png"))[2:]:
        path.unlink()
    with pytest.raises(BenchError, match="class 'ferns' has 2 image.s. here; the validation split .--val-size. of 9"):
        cifar.split(cifar.load("folder", root), val_size=9)


def test_a_run_on_a_folder_trains_in_both_frameworks_and_bad_data_exits_2_writing_nothing(tmp_path):
    root = make_folder(tmp_path / "pets")
    env = {"CNNBENCH_CACHE": str(tmp_path / "cache")}
    common = ["run", "--dataset", "folder", "--data-dir", str(root), "--model", "r2_vanilla_cnn", "--epochs", "1"]
    options = ["--val-size", "6", "--batch-size", "8", "--no-calibration", "--results", str(tmp_path / "out")]
    result = bench(*common, *options, env=env)
    assert result.returncode == 0, result.stderr
    records = [json.loads(path.read_text()) for path in (tmp_path / "out" / "raw").glob("*.json")]
    assert sorted(record["config"]["framework"] for record in records) == ["keras", "torch"]
    for record in records:
        assert record["status"] == "ok" and record["dataset"]["num_classes"] == 3
        label = record["dataset"]["label"]
        assert label.startswith("pets (image folder pets") and "48x48" in label
        convs, dense = 32 * 3 * 9 + 32 + 64 * 32 * 9 + 64, 12 * 12 * 64 * 512 + 512 + 512 * 3 + 3  # at 48x48
        assert record["model"]["params_trainable"] == convs + dense
        served = record["inference"]  # every ok row: batch-1 latency and throughput, by the serving path
        assert served["latency_median_ms"] > 0 and served["throughput_batch"] == 16  # 30 training images
        assert served["throughput_images_per_s"] > 0 and served["path"].startswith(record["config"]["framework"])
    broken = root / "train" / "dogs" / "003.png"
    broken.write_bytes(broken.read_bytes()[:200])
    refused = bench(*common, *options[:-1], str(tmp_path / "refused"), env=env)
    assert_one_line_error(refused, f"unreadable image {broken}")
    assert not (tmp_path / "refused").exists()


def test_a_small_folder_trains_with_default_flags_and_a_flag_it_cannot_take_is_refused(tmp_path):
    """3 classes of 40 training images, as a new user would run them: the default suite's budget (512 validation and
    test images, a 2,048-image subset, batch 64 and the frontier's 32 to 512) is fitted to the data and said so;
    batches fitted alike run once."""
    root = make_folder(tmp_path / "small", size=32, train=40, test=10, grey=False)
    env = {"CNNBENCH_CACHE": str(tmp_path / "cache")}
    common = ["run", "--dataset", "folder", "--data-dir", str(root), "--model", "r2_vanilla_cnn", "--suite", "default"]
    result = bench(*common, "--epochs", "1", "--no-calibration", "--results", str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    for fitted in (
        "r2_vanilla_cnn torch cpu bs64 seed0: val-size 12, test-subset all, train-subset all",
        "r2_vanilla_cnn torch cpu bs128 seed0: val-size 12, test-subset all, train-subset all, batch-size 64",
    ):
        assert f"fitted to 120 training images: {fitted}" in result.stderr
    records = [json.loads(path.read_text()) for path in (tmp_path / "out" / "raw").glob("*.json")]
    ran = sorted((record["config"]["framework"], record["config"]["batch_size"]) for record in records)
    assert ran == [("keras", 32), ("keras", 64), ("torch", 32), ("torch", 64)]
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert (record["dataset"]["val_size"], record["dataset"]["train_size"]) == (12, 108)
        assert record["dataset"]["test_size"] == 30
    for flag, value, message in (
        ("--val-size", "5000", "--val-size 5000 must be between 0 and 119"),
        ("--batch-size", "128", "--batch-size 128 is larger than the 108 training images"),
    ):
        refused = bench(*common, flag, value, "--results", str(tmp_path / "refused"), env=env)
        assert_one_line_error(refused, message)
        assert not (tmp_path / "refused").exists()


@pytest.mark.real_data
@requires_shared_cifar10
def test_the_shared_cifar10_copy_read_as_a_folder_gives_the_cifar10_loaders_images(tmp_path):
    archive = REPO_ROOT.parent / "shared" / "datasets" / cifar.JPEG_ARCHIVE
    with tarfile.open(archive, "r:gz") as tar:  # every file name per split and class, in the loader's order
        names = {}
        for member in tar:
            if member.isfile() and member.name.count("/") == 3:
                _, split, label, name = member.name.split("/")
                names.setdefault((split, label), []).append(name)
    chosen = {key: sorted(files)[:3] for key, files in names.items()}  # the first 3 of each class and split
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[3] in chosen[(parts[1], parts[2])]:
                (tmp_path / "copy" / parts[1] / parts[2]).mkdir(parents=True, exist_ok=True)
                (tmp_path / "copy" / parts[1] / parts[2] / parts[3]).write_bytes(tar.extractfile(member).read())
    from_folder = cifar.load("cifar10", tmp_path / "copy")  # found as an image folder: train/<class>/
    reference = cifar.load("cifar10")  # the archive, decoded (cached)
    assert from_folder.class_names == reference.class_names and from_folder.train_x.shape == (30, 32, 32, 3)
    assert "(image folder copy" in from_folder.label
    for split in ("train", "test"):
        per_class = len(getattr(reference, f"{split}_y")) // 10
        for label, name in enumerate(cifar.CIFAR10_CLASSES):
            every = sorted(names[(split, name)])
            rows = [label * per_class + every.index(file) for file in chosen[(split, name)]]
            folder_rows = getattr(from_folder, f"{split}_x")[label * 3 : label * 3 + 3]
            assert np.array_equal(folder_rows, getattr(reference, f"{split}_x")[rows]), (split, name)


def test_cifar100_reads_an_image_folder_of_its_100_classes_and_refuses_other_classes(tmp_path):
    names = [f"class_{index:03d}" for index in range(100)]
    for split in ("train", "test"):
        for name in names:
            (tmp_path / "c100" / split / name).mkdir(parents=True)
            Image.new("RGB", (32, 32), (len(name), 0, 0)).save(tmp_path / "c100" / split / name / "0.png")
    dataset = cifar.load("cifar100", tmp_path / "c100")
    assert dataset.num_classes == 100 and dataset.label.startswith("CIFAR-100 (image folder c100")
    with pytest.raises(BenchError, match="100 class folders are not CIFAR-10's classes"):
        cifar.load("cifar10", tmp_path / "c100")

"""The data layer: every source, the lookup order, the safe unpickler, the fixed-seed split."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import pickle
import threading

import numpy as np
import pytest

from bench.data import cifar
from bench.errors import BenchError
from tests.conftest import (
    SHARED_ARCHIVE,
    official_files,
    requires_shared_cifar10,
    write_code_running_batch,
    write_jpeg_archive,
    write_official_archive,
    write_official_dir,
)


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No shared dataset folder: lookups see only what a test puts in place."""
    monkeypatch.setattr(cifar, "PROJECT_ROOT", tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
@pytest.mark.parametrize("writer", [write_official_dir, write_official_archive])
def test_official_layout_loads_as_uint8_nhwc(nowhere, name, writer):
    writer(nowhere, name, per_file=7)
    dataset = cifar.load(name, data_dir=nowhere)
    layout = cifar.OFFICIAL[name]
    assert dataset.train_x.shape == (7 * len(layout.train_files), 32, 32, 3)
    assert dataset.train_x.dtype == np.uint8 and dataset.test_x.shape == (7, 32, 32, 3)
    assert dataset.num_classes == (10 if name == "cifar10" else 100)
    assert dataset.label == f"{layout.title} (official python)"
    # Pixel layout: the official rows are CHW planes; image 0's red plane must land in channel 0.
    first = pickle.loads(official_files(name, per_file=7)[layout.train_files[0]])
    np.testing.assert_array_equal(dataset.train_x[0, :, :, 0], first["data"][0, :1024].reshape(32, 32))
    np.testing.assert_array_equal(dataset.train_y[:7], first[layout.label_key])


def test_cifar100_keeps_fine_labels_and_names(nowhere):
    write_official_dir(nowhere, "cifar100", per_file=5)
    dataset = cifar.load("cifar100", data_dir=nowhere)
    assert dataset.class_names[:2] == ("fine_0", "fine_1")
    assert dataset.train_y.max() < 100


def test_pickle_that_runs_code_is_refused_never_executed(nowhere):
    folder = write_official_dir(nowhere, "cifar10", per_file=3)
    marker = nowhere / "pwned"
    write_code_running_batch(folder, "data_batch_1", marker)
    with pytest.raises(BenchError, match="refused"):
        cifar.load("cifar10", data_dir=nowhere)
    assert not marker.exists()


def test_jpeg_archive_is_verified_decoded_and_cached(nowhere, monkeypatch):
    archive = write_jpeg_archive(nowhere, per_class=2)
    dataset = cifar.load("cifar10", data_dir=nowhere)
    assert dataset.label == "CIFAR-10 (JPEG q75 copy)"
    assert dataset.train_x.shape == (20, 32, 32, 3) and dataset.test_x.shape == (20, 32, 32, 3)
    assert list(dataset.train_y) == sorted(list(range(10)) * 2)
    assert dataset.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    cached = list(cifar.cache_dir().glob("cifar10-jpeg-*.npz"))
    assert len(cached) == 1
    # The second load reads the cache: prove it by breaking the decoder.
    monkeypatch.setattr(cifar, "_decode_jpeg_archive", None)
    again = cifar.load("cifar10", data_dir=nowhere)
    np.testing.assert_array_equal(again.train_x, dataset.train_x)


def test_jpeg_archive_with_wrong_checksum_is_refused(nowhere):
    archive = write_jpeg_archive(nowhere)
    archive.with_name(archive.name + ".sha256").write_text("0" * 64 + "  x\n")
    with pytest.raises(BenchError, match="corrupt"):
        cifar.load("cifar10", data_dir=nowhere)


def test_truncated_archive_is_refused(nowhere):
    archive = write_jpeg_archive(nowhere, sidecar=False)
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(BenchError, match="corrupt|unreadable"):
        cifar.load("cifar10", data_dir=nowhere)


def test_lookup_order_data_dir_then_env(nowhere, monkeypatch):
    first, second = nowhere / "first", nowhere / "second"
    write_official_dir(first, "cifar10", per_file=2)
    write_official_dir(second, "cifar10", per_file=3)
    monkeypatch.setenv("CNNBENCH_DATA", str(second))
    assert cifar.find_source("cifar10", first)[1].parent == first
    assert cifar.find_source("cifar10", None)[1].parent == second


def test_missing_dataset_error_names_every_place(nowhere, monkeypatch):
    monkeypatch.setenv("CNNBENCH_DATA", str(nowhere / "env"))
    with pytest.raises(BenchError) as error:
        cifar.load("cifar10")
    message = str(error.value)
    for origin in ("$CNNBENCH_DATA", "../shared/datasets", "download cache", "keras cache", "--data-dir"):
        assert origin in message
    assert "\n" not in message


def test_an_explicit_data_dir_is_the_only_place_looked(nowhere, monkeypatch):
    write_official_dir(nowhere / "env", "cifar10")
    monkeypatch.setenv("CNNBENCH_DATA", str(nowhere / "env"))  # a copy that must not stand in
    (nowhere / "flag").mkdir()
    with pytest.raises(BenchError, match="--data-dir .*flag holds no CIFAR-10"):
        cifar.load("cifar10", data_dir=nowhere / "flag")
    with pytest.raises(BenchError, match="is not a directory"):
        cifar.load("cifar10", data_dir=nowhere / "absent")
    assert cifar.load("cifar10").train_x.shape[0] > 0  # without --data-dir the other copy is found


@pytest.fixture
def http_server(tmp_path):
    """A file server on the loopback interface, standing in for the dataset's host."""
    root = tmp_path / "server"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def serve_official_archive(monkeypatch, http_server, md5: str | None = None):
    """The official CIFAR-10 archive, tiny, served on 127.0.0.1 in place of its host, with its md5 (or `md5`)."""
    root, address = http_server
    source = write_official_archive(root, "cifar10", per_file=4)
    layout = dataclasses.replace(
        cifar.OFFICIAL["cifar10"],
        url=f"{address}/{source.name}",
        md5=md5 or hashlib.md5(source.read_bytes()).hexdigest(),
    )
    monkeypatch.setitem(cifar.OFFICIAL, "cifar10", layout)
    return source


def test_a_missing_dataset_is_downloaded_checked_and_found_next_time(nowhere, monkeypatch, http_server, capsys):
    source = serve_official_archive(monkeypatch, http_server)
    with pytest.raises(BenchError, match="without --offline"):
        cifar.load("cifar10")  # CNNBENCH_OFFLINE (every test's) refuses
    monkeypatch.delenv("CNNBENCH_OFFLINE")
    with pytest.raises(BenchError, match="without --offline"):
        cifar.load("cifar10", offline=True)
    with pytest.raises(BenchError, match="holds no CIFAR-10"):  # an explicit --data-dir is never replaced
        cifar.load("cifar10", data_dir=nowhere)
    dataset = cifar.load("cifar10")
    assert dataset.train_x.shape == (20, 32, 32, 3)
    assert "CIFAR-10 not found: downloading http://127.0.0.1:" in capsys.readouterr().err
    downloaded = cifar.cache_dir() / "downloads" / source.name
    assert downloaded.read_bytes() == source.read_bytes()
    monkeypatch.setenv("CNNBENCH_OFFLINE", "1")  # next time the download cache is found, offline too
    assert cifar.find_source("cifar10") == ("official-tar", downloaded)
    assert cifar.load("cifar10").sha256 == dataset.sha256


def test_a_corrupt_or_failed_download_leaves_nothing_to_find(nowhere, monkeypatch, http_server):
    monkeypatch.delenv("CNNBENCH_OFFLINE")
    serve_official_archive(monkeypatch, http_server, md5="0" * 32)
    with pytest.raises(BenchError, match="is corrupt: md5 .*, expected 0{32}"):
        cifar.load("cifar10")
    monkeypatch.setitem(
        cifar.OFFICIAL,
        "cifar10",
        dataclasses.replace(cifar.OFFICIAL["cifar10"], url=cifar.OFFICIAL["cifar10"].url + ".absent"),
    )
    with pytest.raises(BenchError, match="download of .*absent failed: HTTP Error 404"):
        cifar.load("cifar10")
    assert not list((cifar.cache_dir() / "downloads").iterdir())


def test_split_is_fixed_disjoint_and_class_balanced():
    dataset = cifar.synthetic(train=2000, test=10)
    first = cifar.split(dataset, val_size=500)
    second = cifar.split(dataset, val_size=500)
    np.testing.assert_array_equal(first.val_x, second.val_x)
    assert len(first.train_y) == 1500 and len(first.val_y) == 500
    train_rows = {row.tobytes() for row in first.train_x}
    assert not any(row.tobytes() in train_rows for row in first.val_x)
    assert np.bincount(first.val_y, minlength=10).tolist() == [50] * 10


def test_train_subset_is_balanced_seeded_and_bounded():
    dataset = cifar.synthetic(train=3000, test=10)
    subset = cifar.split(dataset, val_size=300, train_subset=200)
    assert len(subset.train_y) == 200
    assert np.bincount(subset.train_y, minlength=10).tolist() == [20] * 10
    np.testing.assert_array_equal(subset.train_x, cifar.split(dataset, 300, 200).train_x)
    with pytest.raises(BenchError, match="larger than the training split"):
        cifar.split(dataset, val_size=300, train_subset=2701)


@requires_shared_cifar10
@pytest.mark.real_data
def test_shared_cifar10_copy_loads_in_full():
    dataset = cifar.load("cifar10", data_dir=SHARED_ARCHIVE.parent)
    assert dataset.train_x.shape == (50000, 32, 32, 3) and dataset.test_x.shape == (10000, 32, 32, 3)
    assert np.bincount(dataset.train_y).tolist() == [5000] * 10
    splits = cifar.split(dataset)
    assert len(splits.train_y) == 45000 and np.bincount(splits.val_y).tolist() == [500] * 10


def indexed_cifar10_shape() -> cifar.Cifar:
    """CIFAR-10's sizes (50,000 training and 10,000 test images, labels in a fixed pseudo-random order) with each
    image's pixels holding its own index, so that a split's arrays say which images it took."""

    def numbered(count: int) -> np.ndarray:
        index = np.arange(count)
        return np.stack([index // 65536, index // 256 % 256, index % 256], axis=1).astype(np.uint8).reshape(-1, 1, 1, 3)

    labels = np.random.default_rng(2026).integers(0, 10, 60_000).astype(np.int64)
    return cifar.Cifar(
        "cifar10",
        "indexed",
        "generated",
        "-",
        cifar.CIFAR10_CLASSES,
        numbered(50_000),
        labels[:50_000],
        numbered(10_000),
        labels[50_000:],
    )


def selected_indices_sha256(images: np.ndarray) -> str:
    pixels = images.reshape(-1, 3).astype(np.int64)
    return hashlib.sha256((pixels[:, 0] * 65536 + pixels[:, 1] * 256 + pixels[:, 2]).tobytes()).hexdigest()[:16]


@pytest.mark.parametrize(
    "val_size, train_subset, test_subset, pinned",
    [
        (5000, None, None, ("04efb553c88216fa", "5f902b4546c51485", "9e1c19b3fdc18541")),  # the papers' budget
        (5000, 5000, 1000, ("9064d52fdb827b33", "5f902b4546c51485", "697f2fc7e5dc8b1f")),  # the default run's
    ],
)
def test_the_split_takes_the_same_images_in_every_version(val_size, train_subset, test_subset, pinned):
    # A changed split changes every row's meaning: results of an older version would no longer compare.
    splits = cifar.split(indexed_cifar10_shape(), val_size, train_subset, test_subset=test_subset)
    assert tuple(selected_indices_sha256(x) for x in (splits.train_x, splits.val_x, splits.test_x)) == pinned


def test_the_images_hash_names_the_images_not_the_file_they_came_from():
    replace = dataclasses.replace
    images = cifar.synthetic(train=20, test=10)
    elsewhere = replace(images, label="the same images from a folder", source="folder", sha256="f" * 64)
    assert elsewhere.images_sha256 == images.images_sha256 and elsewhere.sha256 != images.sha256
    changed = images.train_x.copy()
    changed[0, 0, 0, 0] ^= 1  # one bit of one pixel
    assert replace(images, train_x=changed).images_sha256 != images.images_sha256
    relabelled = images.train_y.copy()
    relabelled[0] = (relabelled[0] + 1) % images.num_classes
    assert replace(images, train_y=relabelled).images_sha256 != images.images_sha256

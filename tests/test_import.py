"""`python -m bench import`: another run's raw and calibration files (a results directory or the
archive .ci/gpu-run packs) land in a results directory byte for byte, once, and show as rows."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.report import frame, tables
from bench.results import store
from tests.conftest import REPO_ROOT
from tests.test_cli import assert_one_line_error, bench

GPU_RAW = sorted((REPO_ROOT / "results" / "raw").glob("*_cuda_*.json"))


def test_the_committed_h200_rows_are_there_and_failed_gpu_rows_name_the_gpu():
    records = store.load(REPO_ROOT / "results")
    gpu = [r for r in records if r["config"]["device"] == "cuda"]
    assert len(gpu) == 13 and {r["status"] for r in gpu} == {"ok", "crashed", "timeout"}
    failed = tables.failure_table(frame.trial_frame(gpu))
    assert len(failed) == 4 and {name.split(" #")[0] for name in failed["hardware"]} == {"NVIDIA H200"}
    assert "cuda" not in set(tables.environment_table(gpu)["hardware"])


def test_import_of_an_archive_copies_raw_and_calibration_files_byte_for_byte_once(tmp_path):
    archive = tmp_path / "gpu-run.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in GPU_RAW[:3]:
            tar.add(path, arcname=f"results/raw/{path.name}")
        calibration = next((REPO_ROOT / "results" / "calibration").glob("*.json"))
        tar.add(calibration, arcname=f"results/calibration/{calibration.name}")
    target = tmp_path / "results"
    first = bench("import", str(archive), "--results", str(target))
    assert first.returncode == 0 and "imported 4 files" in first.stdout, first.stderr
    for path in GPU_RAW[:3]:
        copied = target / "raw" / path.name
        assert copied.read_bytes() == path.read_bytes()
        assert stat.S_IMODE(copied.stat().st_mode) == 0o666 & ~_umask()
    assert (target / "calibration" / calibration.name).read_bytes() == calibration.read_bytes()
    again = bench("import", str(archive), "--results", str(target))
    assert again.returncode == 0 and "imported 0 files" in again.stdout and "4 already there" in again.stdout
    assert len(store.load(target)) == 3


def test_import_from_a_results_directory(tmp_path):
    source = tmp_path / "other" / "raw"
    source.mkdir(parents=True)
    (source / GPU_RAW[0].name).write_bytes(GPU_RAW[0].read_bytes())
    result = bench("import", str(tmp_path / "other"), "--results", str(tmp_path / "results"))
    assert result.returncode == 0, result.stderr
    assert [r["trial_id"] for r in store.load(tmp_path / "results")] == [json.loads(GPU_RAW[0].read_text())["trial_id"]]


def test_import_refuses_what_is_not_a_result(tmp_path):
    assert_one_line_error(bench("import", str(tmp_path / "absent.tar.gz")), "does not exist")
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    assert_one_line_error(bench("import", str(tmp_path / "junk.tar.gz")), "cannot read archive")
    (tmp_path / "foreign" / "raw").mkdir(parents=True)
    (tmp_path / "foreign" / "raw" / "x.json").write_text('{"hello": 1}')
    assert_one_line_error(
        bench("import", str(tmp_path / "foreign"), "--results", str(tmp_path / "r")), "not a cnnbench record"
    )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_gpu_run_always_packs_one_archive_that_import_reads(tmp_path):
    # On this CPU every cuda stage is refused at once (no GPU), or skipped for lack of time: the script
    # must still leave exactly one archive, with its logs, and say which stages did not run.
    out = tmp_path / "out"
    out.mkdir()
    env = {
        **os.environ,
        "OUT": str(out),
        "GPU_RUN_SECONDS": "35",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    completed = subprocess.run(
        ["bash", ".ci/gpu-run"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert [p.name for p in out.iterdir()] == ["gpu-run.tar.gz"], completed.stderr[-2000:]
    with tarfile.open(out / "gpu-run.tar.gz") as archive:
        names = archive.getnames()
        stages = archive.extractfile("logs/stages.log").read().decode()
    assert "logs/smoke-torch.log" in names and "results" in names
    assert stages.startswith("stage smoke-torch") and "not run, out of time: reports-gpu-keras-jax" in stages
    refused = bench("import", str(out / "gpu-run.tar.gz"), "--results", str(tmp_path / "results"))
    assert_one_line_error(refused, "holds no raw/*.json")


def test_an_archive_member_outside_the_archive_is_refused(tmp_path, monkeypatch):
    import io

    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = GPU_RAW[0].read_bytes()
        info = tarfile.TarInfo("../../escaped/raw/x.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    for without_data_filter in (False, True):  # Pythons before 3.11.4 have no tarfile.data_filter
        if without_data_filter:
            monkeypatch.delattr(tarfile, "data_filter", raising=False)
        with pytest.raises(BenchError, match="cannot read archive"):
            store.import_results(archive, tmp_path / "results")
    assert not (tmp_path.parent / "escaped").exists()

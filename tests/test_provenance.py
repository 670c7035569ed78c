"""Provenance (bench.measure.provenance): what a record says of the machine, the code and the command, each fact
checked against its source."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import psutil
import pytest

from bench.measure import provenance


def test_the_cpu_is_the_model_name_the_kernel_gives():
    cpuinfo = "/proc/cpuinfo"
    if not os.path.exists(cpuinfo):
        pytest.skip("PROVENANCE SKIPPED: no /proc/cpuinfo on this system")
    names = [line.split(":", 1)[1].strip() for line in open(cpuinfo) if line.startswith("model name")]
    assert provenance.cpu_model() == (names[0] if names else platform.processor() or platform.machine())


def test_a_sweeps_provenance_holds_this_machine_and_this_python():
    collected = provenance.collect(["python", "-m", "bench", "run"])
    assert collected["python"] == platform.python_version() and collected["hostname"] == platform.node()
    assert collected["platform"] == platform.platform() and collected["cpu"] == provenance.cpu_model()
    assert collected["gpu"] == provenance.gpu_driver()
    assert collected["cpu_cores_logical"] == psutil.cpu_count(logical=True)
    assert collected["cpu_cores_physical"] == psutil.cpu_count(logical=False)
    assert collected["memory_total_bytes"] == psutil.virtual_memory().total
    assert collected["packages"]["numpy"] == __import__("numpy").__version__
    assert collected["command"].endswith("-m bench run") and collected["ci"] == bool(os.environ.get("CI"))
    assert set(collected["git"]) == {"commit", "dirty"}


def git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path, monkeypatch):
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path)
    assert provenance.git_state() == {"commit": None, "dirty": None}  # not a repository
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    assert provenance.git_state() == {"commit": git(tmp_path, "rev-parse", "HEAD"), "dirty": False}
    (tmp_path / "new.py").write_text("untracked\n")
    assert provenance.git_state()["dirty"] is False  # untracked files are not the code that ran
    (tmp_path / "code.py").write_text("x = 2\n")
    assert provenance.git_state()["dirty"] is True


def fake_nvidia_smi(folder, output: str) -> None:
    """An nvidia-smi that prints `output` when asked what gpu_driver asks, and fails otherwise."""
    asked = ["--query-gpu=name,driver_version", "--format=csv,noheader"]
    script = folder / "nvidia-smi"
    script.write_text(f"#!{sys.executable}\nimport sys\nif sys.argv[1:] != {asked!r}: sys.exit(6)\nprint({output!r})\n")
    script.chmod(0o755)


def test_gpus_and_their_driver_come_from_nvidia_smi_where_there_is_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert provenance.gpu_driver() == {"gpus": [], "driver_version": None}
    fake_nvidia_smi(tmp_path, "NVIDIA H100 80GB HBM3, 550.54.15\nNVIDIA H100 80GB HBM3, 550.54.15")
    assert provenance.gpu_driver() == {"gpus": ["NVIDIA H100 80GB HBM3"] * 2, "driver_version": "550.54.15"}
    fake_nvidia_smi(tmp_path, "No devices were found")
    assert provenance.gpu_driver() == {"gpus": [], "driver_version": None}


def test_the_machine_fingerprint_changes_with_each_fact_it_keeps_and_only_those():
    machine = {
        "cpu": "Intel Xeon",
        "cpu_cores_logical": 2,
        "memory_total_bytes": 24 * 2**30,
        "gpu": {"gpus": [], "driver_version": None},
        "hostname": "a",
    }
    print_ = provenance.machine_fingerprint(machine)
    assert len(print_) == 6 and int(print_, 16) >= 0
    assert provenance.machine_fingerprint({**machine, "hostname": "b"}) == print_
    assert provenance.machine_fingerprint({**machine, "memory_total_bytes": 24 * 2**30 + 2**20}) == print_
    for changed in (
        {"cpu": "AMD EPYC"},
        {"cpu_cores_logical": 4},
        {"memory_total_bytes": 32 * 2**30},
        {"gpu": {"gpus": ["NVIDIA H100"], "driver_version": None}},
        {"gpu": {"gpus": [], "driver_version": "550"}},
    ):
        assert provenance.machine_fingerprint({**machine, **changed}) != print_, changed


def test_a_package_that_is_not_installed_has_no_version(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", ("numpy", "no-such-package-cnnbench"))
    versions = provenance.package_versions()
    assert versions == {"numpy": __import__("numpy").__version__, "no-such-package-cnnbench": None}


def test_ci_and_the_command_line_are_the_processs_own(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(sys, "argv", ["/somewhere/bench/__main__.py", "run", "--resume"])
    collected = provenance.collect()
    assert collected["ci"] is True and collected["command"].endswith("run --resume")
    monkeypatch.delenv("CI")
    assert provenance.collect()["ci"] is False


def test_gpus_are_every_line_nvidia_smi_gives_and_none_where_it_cannot_run(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 550.54'\necho 'NVIDIA H100 80GB HBM3, 550.54'\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert provenance.gpu_driver() == {"gpus": ["NVIDIA H100 80GB HBM3"] * 2, "driver_version": "550.54"}
    smi.write_text("not a program\n")  # on PATH, but it cannot run (exec format error)
    smi.chmod(0o755)
    assert provenance.gpu_driver() == {"gpus": [], "driver_version": None}

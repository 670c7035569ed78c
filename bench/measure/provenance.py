"""Where a result came from: versions, machine, git commit, command line. Imports no framework."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from bench.frameworks import RECORDS
from bench.paths import PROJECT_ROOT, portable_command

PACKAGES = ("numpy", *(package for record in RECORDS for package in record.versioned_packages))


def package_versions() -> dict[str, str | None]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_state() -> dict:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD") or None
        dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def gpu_driver() -> dict:
    """GPU names and driver version from nvidia-smi, when there is one (imports no framework)."""
    if not shutil.which("nvidia-smi"):
        return {"gpus": [], "driver_version": None}
    try:
        lines = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            .stdout.strip()
            .splitlines()
        )
    except (OSError, subprocess.SubprocessError):
        return {"gpus": [], "driver_version": None}
    pairs = [line.rsplit(",", 1) for line in lines if "," in line]
    return {"gpus": [name.strip() for name, _ in pairs], "driver_version": pairs[0][1].strip() if pairs else None}


def machine_facts() -> dict:
    """What tells this machine apart (machine_fingerprint reads it): CPU model, logical cores, memory and GPUs."""
    return {
        "cpu": cpu_model(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "memory_total_bytes": psutil.virtual_memory().total,
        "gpu": gpu_driver(),
    }


def this_machine() -> str:
    """This machine's fingerprint."""
    return machine_fingerprint(machine_facts())


def collect(argv: list[str] | None = None) -> dict:
    """Provenance shared by every trial of one sweep."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        **machine_facts(),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "hostname": platform.node(),
        "packages": package_versions(),
        "git": git_state(),
        "command": portable_command(argv if argv is not None else sys.argv),
        "ci": bool(os.environ.get("CI")),
    }


def machine_fingerprint(provenance: dict) -> str:
    """Six hex digits that tell machines apart where their names agree: the CPU model, logical cores, memory
    (whole GiB), GPUs and driver of the machine that ran the trial."""
    gpu = provenance.get("gpu") or {}
    facts = [
        provenance.get("cpu"),
        provenance.get("cpu_cores_logical"),
        round((provenance.get("memory_total_bytes") or 0) / 2**30),
        gpu.get("gpus") or [],
        gpu.get("driver_version"),
    ]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:6]

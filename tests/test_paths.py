"""Records name no absolute path of the machine that made them (bench.paths)."""

from __future__ import annotations

import re

from bench.paths import PROJECT_ROOT, portable, portable_command

ABSOLUTE = re.compile(r'"(/home|/root|/Users|/work|/tmp|/var|/opt|/mnt)/')


def test_paths_become_project_relative_or_home_relative_or_elided(monkeypatch, tmp_path):
    assert portable(PROJECT_ROOT / "results" / "raw") == "results/raw"
    assert portable(PROJECT_ROOT.parent / "shared" / "datasets" / "x.tar.gz") == "../shared/datasets/x.tar.gz"
    assert portable("relative/as/given") == "relative/as/given"
    far = PROJECT_ROOT.parent.parent / "elsewhere" / "results-gpu"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert portable(far) == "…/results-gpu"
    assert portable(tmp_path / "home" / "data" / "cifar") == "~/data/cifar"


def test_command_lines_name_the_entry_point_and_no_absolute_path():
    argv = [
        str(PROJECT_ROOT / "bench" / "__main__.py"),
        "run",
        "--results",
        str(PROJECT_ROOT / "results"),
        f"--data-dir={PROJECT_ROOT.parent / 'shared'}",
        "--seeds",
        "0",
        "1",
    ]
    assert portable_command(argv) == "python -m bench run --results results --data-dir=../shared --seeds 0 1"


def test_no_committed_result_holds_an_absolute_path():
    offenders = [path.name for path in (PROJECT_ROOT / "results").rglob("*.json") if ABSOLUTE.search(path.read_text())]
    assert offenders == []

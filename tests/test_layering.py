"""The direction of imports in bench/ (pyproject's [tool.importlinter] contracts), checked by import-linter:
spec <- data <- frameworks <- measure <- results <- run <- report <- cli, and no framework imported outside
bench.frameworks but for the few listed exceptions; and the code clean under ruff's lint and format."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_no_module_imports_from_a_layer_above_its_own_and_frameworks_stay_behind_the_adapters():
    lint = Path(sys.executable).parent / "lint-imports"
    completed = subprocess.run([str(lint), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "Contracts: 6 kept, 0 broken." in completed.stdout


def test_the_code_is_clean_under_ruff_lint_and_format():
    for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        completed = subprocess.run(
            [sys.executable, "-m", "ruff", *command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 0, f"ruff {command[0]}: {completed.stdout[-3000:]} (fix: ruff {command[0]} .)"


def test_no_function_in_bench_is_over_50_lines():
    long = []
    for path in sorted((REPO_ROOT / "bench").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 50:
                long.append(
                    f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
                )
    assert not long, "split these (as formatted by ruff): " + "; ".join(long)

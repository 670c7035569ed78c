"""`python -m bench list`: the models with their parameter counts and FLOPs, or the suites; imports no
framework unless --measured asks each installed one to build every model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tabulate import tabulate

from bench.errors import BenchError
from bench.frameworks import FRAMEWORKS, missing_framework
from bench.spec import layers, registry
from bench.spec.suites import SUITES

HELP = "models x frameworks with parameter counts"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--markdown", action="store_true", help="the models table of the README")
    parser.add_argument("--suites", action="store_true", help="list the suites instead")
    parser.add_argument(
        "--measured",
        action="store_true",
        help="also build every model in each installed framework and report its own counts",
    )


def run(args) -> int:
    if args.suites:
        print_suites(args.json)
        return 0
    rows = model_rows()
    if args.measured:
        for framework in FRAMEWORKS:
            counts = _measured_counts(framework)
            for row in rows:
                row.setdefault("params_measured", {})[framework] = counts.get(row["model"]) if counts else None
    if args.json:
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(models_markdown(rows))
    else:
        print_models(rows)
    return 0


def print_suites(as_json: bool) -> None:
    """Each suite with its description (as JSON: also its frameworks, seeds and trials per framework)."""
    if not as_json:
        print(tabulate([(suite.name, suite.description) for suite in SUITES.values()], tablefmt="plain"))
        return
    suites = [
        {
            "name": suite.name,
            "description": suite.description,
            "frameworks": list(suite.frameworks or FRAMEWORKS),
            "seeds": list(suite.seeds),
            "trials_per_framework": len(suite.entries) * len(suite.seeds),
        }
        for suite in SUITES.values()
    ]
    print(json.dumps(suites, indent=2))


def model_rows() -> list[dict]:
    """One row per model of the registry: its paper, description, counts at 10 classes and frameworks."""
    rows = []
    for name in registry.model_names():
        spec = registry.spec(name)
        trainable, frozen = layers.count_params(registry.layers(name, 10))
        described = "".join(f", {key}={value}" for key, value in registry.options(name).items())
        rows.append(
            {
                "model": name,
                "paper": spec.paper,
                "description": spec.description + described,
                "interpretation": spec.interpretation,
                "params_trainable": trainable,
                "params_non_trainable": frozen,
                "forward_mflops": round(layers.forward_flops(registry.layers(name, 10)) / 1e6, 2),
                "classes": [10, 100],
                "frameworks": {fw: missing_framework(fw) or "available" for fw in FRAMEWORKS},
            }
        )
    return rows


def print_models(rows: list[dict]) -> None:
    """The plain table: model, paper, parameters, MFLOPs and which frameworks can run it here."""
    table = [
        (
            row["model"],
            row["paper"],
            f"{row['params_trainable'] + row['params_non_trainable']:,}",
            f"{row['forward_mflops']:.1f}",
            ", ".join(
                fw if state == "available" else f"{fw} (skipped: {state})" for fw, state in row["frameworks"].items()
            ),
        )
        for row in rows
    ]
    print(
        tabulate(
            table,
            headers=["model", "paper", "params", "MFLOPs", "frameworks"],
            tablefmt="plain",
            disable_numparse=True,
            colalign=("left", "left", "right", "right", "left"),
        )
    )


def _measured_counts(framework: str) -> dict | None:
    """Parameter counts as `framework` builds the models (in a subprocess), or None if it is missing."""
    if missing_framework(framework):
        return None
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench.measure.parameter_counts", framework],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if completed.returncode != 0:
        raise BenchError(f"building the models in {framework} failed: {completed.stderr.strip().splitlines()[-1]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def models_markdown(rows: list[dict]) -> str:
    """The README's models table, generated from the registry (`python -m bench list --markdown`)."""
    lines = ["| model | paper | description | params (10 classes) | forward MFLOPs/image |", "|:--|:--|:--|--:|--:|"]
    for row in rows:
        params = row["params_trainable"] + row["params_non_trainable"]
        lines.append(
            f"| `{row['model']}` | {row['paper']} | {row['description']} | {params:,} | {row['forward_mflops']:.1f} |"
        )
    return "\n".join(lines)

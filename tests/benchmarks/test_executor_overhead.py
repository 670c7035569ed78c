"""pytest-benchmark: what an executor adds per trial, Ray against local, on a sweep of short trials.

`pytest --benchmark-only` times a sweep of TRIALS one-epoch trials of the smallest CNN on 200 synthetic
images per executor (Ray's start is paid once per session, in the warm-up sweep, and not timed); the
per-trial overhead is the difference of the two means divided by TRIALS. The test suite runs each body
once, untimed, on one trial.
"""

from __future__ import annotations

import importlib.util

import pytest

from bench.results import store
from bench.run import runner
from tests.test_end_to_end import synthetic_trial

TRIALS = 4


def executor_for(name: str):
    from bench.run.executors import make_executor

    return make_executor(name)


@pytest.mark.parametrize(
    "name",
    [
        "local",
        pytest.param(
            "ray",
            marks=pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="RAY BENCHMARK SKIPPED: no ray"),
        ),
    ],
)
def test_sweep_of_short_trials(benchmark, tmp_path_factory, request, name):
    if name == "ray":
        request.getfixturevalue("local_ray")
    count = 1 if benchmark.disabled else TRIALS
    executor = executor_for(name)

    def sweep():
        results = tmp_path_factory.mktemp(name)
        trials = [synthetic_trial(seed=seed) for seed in range(count)]
        return runner.run_sweep(trials, results, executor=executor), results

    if not benchmark.disabled:
        sweep()  # warm-up: imports, Ray's worker pool, the OS file cache
    benchmark.group = f"sweep of {count} one-epoch trials"
    benchmark.extra_info.update(executor=name, trials=count)
    summary, results = benchmark.pedantic(sweep, rounds=3 if not benchmark.disabled else 1, iterations=1)
    assert summary.counts["ok"] == count and all(r["executor"] == name for r in store.load(results))

"""nox sessions: `tests` (the test suite), `benchmark` (`pytest --benchmark-only`), `bench` (a benchmark
sweep, then its leaderboard) and `mutants` (mutation testing, on demand).

Environments are reused between runs (`reuse_venv`), so only the first run pays the ~7 GB install.
"""

import os
import shutil
from datetime import datetime

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]


def _pytest_args(posargs: list[str]) -> list[str]:
    """The suite runs benchmark bodies once, untimed, in two pytest-xdist workers, unless the arguments ask to
    time them (timed benchmarks run alone, in one process). Two workers: most of the suite's time is single-threaded
    process start-up and imports, so two fill the two cores CI has (14-18 min in one process, 10 in two, here)."""
    timed = any(arg.startswith(("--benchmark-only", "--benchmark-enable")) for arg in posargs)
    return [*posargs] if timed else ["--benchmark-disable", "--numprocesses", "2", *posargs]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite; benchmark bodies run once, untimed (`nox -s benchmark` times them)."""
    session.install("-e", ".[all,dev]")
    session.run("pytest", *_pytest_args(session.posargs))


@nox.session(venv_backend="none")
def benchmark(session: nox.Session) -> None:
    """`pytest --benchmark-only ARGS` in the tests session's environment (one install serves both):
    pytest-benchmark's table of per-epoch times (see README, `pytest --benchmark-only`)."""
    session.notify("tests", posargs=["--benchmark-only", *session.posargs])


@nox.session(venv_backend="none")
def mutants(session: nox.Session) -> None:
    """Mutation testing of the measurement code, on demand (not in CI): `mutmut run ARGS` in the tests session's
    environment, then its results; pyproject.toml's [tool.mutmut] says which code and which tests
    (docs/mutation-testing.md: the last score and every surviving mutant)."""
    python = os.path.join(".nox", "tests", "bin", "python")
    if not os.path.exists(python):
        session.error("run `nox -s tests` once first: its environment (with mutmut, from the dev extra) runs this")
    session.run(python, "-m", "mutmut", "run", *session.posargs)
    session.run(python, "-m", "mutmut", "results", success_codes=[0, 1])


def _device(args: list[str]) -> str:
    return args[args.index("--device") + 1] if "--device" in args[:-1] else "cpu"


@nox.session
def bench(session: nox.Session) -> None:
    """`nox -s bench -- ARGS` = `python -m bench run ARGS`, then `python -m bench report` (given ARGS' `--budget`
    and `--reference`, which `bench run` checks before it runs).

    With `--device cuda` it installs the GPU extra (CUDA torch, keras on JAX with CUDA) instead of the
    CPU one (keras on tensorflow-cpu), after checking that an NVIDIA driver is there to use it.
    """
    cuda = _device(session.posargs) == "cuda"
    if cuda and shutil.which("nvidia-smi") is None:
        session.error(
            "--device cuda needs an NVIDIA GPU and its driver: nvidia-smi is not on PATH (nothing was installed)"
        )
    session.install("-e", ".[gpu]" if cuda else ".[all]")
    args, report_args = list(session.posargs), _report_options(list(session.posargs))
    if "--results" not in args[:-1]:  # a folder of its own under runs/ (git-ignored), named for reporting it
        args += ["--results", os.path.join("runs", datetime.now().strftime("%Y%m%d-%H%M%S"))]
    session.run("python", "-m", "bench", "run", *args)
    session.run("python", "-m", "bench", "report", "--results", args[args.index("--results") + 1], *report_args)


REPORT_OPTIONS = ("--budget", "--reference")  # `bench run` checks them before it runs; `bench report` uses them


def _report_options(args: list[str]) -> list[str]:
    """The arguments that are `bench report`'s too (REPORT_OPTIONS, each with its value)."""
    report = []
    words = iter(args)
    for word in words:
        if word in REPORT_OPTIONS:
            report += [word, next(words, "")]
        elif word.split("=")[0] in REPORT_OPTIONS:
            report.append(word)
    return report

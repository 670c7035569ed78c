"""nox sessions: `tests` (the test suite) and `bench` (a benchmark sweep, then its leaderboard).

Environments are reused between runs (`reuse_venv`), so only the first run pays the ~7 GB install.
"""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite; benchmark bodies run once, untimed (`pytest --benchmark-only` times them)."""
    session.install("-e", ".[all,dev]")
    session.run("pytest", "--benchmark-disable", *session.posargs)


def _device(args: list[str]) -> str:
    return args[args.index("--device") + 1] if "--device" in args[:-1] else "cpu"


@nox.session
def bench(session: nox.Session) -> None:
    """`nox -s bench -- ARGS` = `python -m bench run ARGS`, then `python -m bench report`.

    With `--device cuda` it installs the GPU extra (CUDA torch, keras on JAX with CUDA) instead of the
    CPU one (keras on tensorflow-cpu).
    """
    session.install("-e", ".[gpu]" if _device(session.posargs) == "cuda" else ".[all]")
    session.run("python", "-m", "bench", "run", *session.posargs)
    results = "results"
    if "--results" in session.posargs:
        results = session.posargs[session.posargs.index("--results") + 1]
    session.run("python", "-m", "bench", "report", "--results", results)

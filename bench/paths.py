"""Paths as records keep them: never an absolute path of the machine that ran the trial.

Inside the project, or beside it, a path is relative to the project (`results/raw`,
`../shared/datasets/...`); under the home directory it starts with `~`; anywhere else only its last
part is kept, after an ellipsis (`…/results-gpu`).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUNS = "runs"  # a user's own runs, one folder each (git-ignored): the committed results/ change only when asked


def run_folder(resume: bool) -> str:
    """Where `run` writes without --results: a new folder runs/WHEN, or with --resume the latest one there."""
    earlier = sorted(path for path in Path(RUNS).glob("*") if path.is_dir()) if resume else []
    if earlier:
        return str(earlier[-1])
    return os.path.join(RUNS, datetime.now().strftime("%Y%m%d-%H%M%S"))


def portable(path: str | os.PathLike) -> str:
    """`path` as a record may keep it (see the module docstring); relative paths stay as given."""
    text = os.fspath(path)
    if not os.path.isabs(text):
        return text
    absolute = Path(os.path.normpath(text))
    relative = os.path.relpath(absolute, PROJECT_ROOT)
    if not relative.startswith(f"..{os.sep}.."):
        return relative
    if absolute.is_relative_to(Path.home()):
        return str(Path("~") / absolute.relative_to(Path.home()))
    return f"…/{absolute.name}"


def portable_command(argv: list[str]) -> str:
    """A command line as typed, with the entry script named as `python -m bench` and every
    absolute path (also in --option=PATH) made portable."""
    words = [
        "python -m bench" if index == 0 and word.endswith(("__main__.py", "/cnnbench")) else word
        for index, word in enumerate(argv)
    ]
    return " ".join(_portable_word(word) for word in words)


def _portable_word(word: str) -> str:
    option, equals, value = word.partition("=")
    if equals and option.startswith("--"):
        return f"{option}={_portable_word(value)}"
    scheme, separator, path = word.partition(":///")
    if separator and path.startswith("/"):  # a database file URL, e.g. sqlite:////home/me/studies.db
        return f"{scheme}:///{portable(path)}"
    address = urlsplit(word)
    if address.password:  # postgresql://user:secret@host/db: never record a password
        return address._replace(netloc=address.netloc.replace(f":{address.password}@", ":***@")).geturl()
    return portable(word)

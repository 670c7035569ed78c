"""The one exception type for bad input: the CLI prints its message on one line and exits 2."""

import difflib


class BenchError(Exception):
    """A user-facing error: bad argument, missing or corrupt dataset, unknown name."""


def unknown(kind: str, name: str, choices) -> BenchError:
    """`unknown model 'r2_vanila_cnn'; did you mean r2_vanilla_cnn? choose from ...`: the error for a name that
    is not one of `choices`, with the closest one where a name is close."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return BenchError(f"unknown {kind} {name!r}; {hint}choose from {', '.join(choices)}")

"""The one exception type for bad input: the CLI prints its message on one line and exits 2."""


class BenchError(Exception):
    """A user-facing error: bad argument, missing or corrupt dataset, unknown name."""

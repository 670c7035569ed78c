"""Counts every registered model's parameters as built by one framework:
`python -m bench.measure.parameter_counts FRAMEWORK` prints {model: [trainable, non_trainable]} as JSON.

`python -m bench list --measured` runs it once per installed framework (each in its own process,
as trials do), so the listing shows counts the frameworks report, not only the spec's arithmetic.
"""

from __future__ import annotations

import json
import sys

from bench.frameworks.base import get_adapter
from bench.spec import registry


def measured_counts(framework: str, num_classes: int = 10) -> dict[str, list[int]]:
    adapter = get_adapter(framework)
    adapter.setup("cpu", threads=1, seed=0)
    return {
        name: list(adapter.count_params(adapter.build(registry.layers(name, num_classes), name)))
        for name in registry.model_names()
    }


if __name__ == "__main__":
    print(json.dumps(measured_counts(sys.argv[1])))

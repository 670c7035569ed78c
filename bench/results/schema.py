"""The result record of one trial, typed: built by the sweep (bench.run.runner), validated when written and
when read, with a reader for every older schema version.

Version 7 (this one) adds `dataset.images_sha256`, the hash of the decoded images and labels: the same images
read from two file layouts (the JPEG archive and its image folder) share it; and each process and epoch names
its machine (`machine`, the fingerprint): a trial resumed on another machine is timed on its last one alone. Version 6 adds `processes`, the processes a trial ran in (one, unless it was resumed from its
checkpoint), each with its first and last epoch and its start-up time; each epoch names its process, and the
model block holds the trained weights' hash. Version 5 adds `inference`, the trained model's batch-1 latency and
throughput. Version 4 records a
framework's backend as `config.backend`, for any framework with several, where versions 1 to 3 had
`config.keras_backend`. Version 3 named the five source papers "paper" (`model.paper`, `recipe.paper`,
`budget.paper_epochs`, `budget.matches_paper`), where versions 1 and 2 said "report". Version 2 added
`initialisation` (a data-dependent initialisation such as airbench's whitening). An older file is read as this
version: renamed fields under their new names, fields it lacks set to None, so old results stay usable.
"""

from __future__ import annotations

import re
from dataclasses import MISSING, dataclass, fields

from bench.errors import BenchError
from bench.results.blocks import BLOCKS, block_fault
from bench.spec.config import IDENTITY_NAMES

SCHEMA_VERSION = 7
STATUSES = ("ok", "diverged", "oom", "timeout", "crashed", "pruned")  # pruned: stopped by a search's pruner


class InvalidRecord(BenchError):
    """A record that does not follow the schema (a file by hand, or from another program)."""


@dataclass(frozen=True)
class TrialRecord:
    schema_version: int
    trial_id: str  # 16 hex digits: the hash of the trial's identity (bench.spec.config.TrialConfig)
    status: str  # one of STATUSES
    error: str | None  # the failure, one line; None when ok
    config: dict  # every TrialConfig field, paths made portable
    provenance: dict  # versions, machine, git, command of the sweep
    started_at: str | None
    finished_at: str | None
    epochs: list  # one dict per finished epoch
    executor: str | None = None  # local | ray (None in files written before it was recorded)
    machine: dict | None = None  # what else ran on the trial's machine while it ran
    # The trial's body (bench.run.trial.run): present when it ran to its end, None otherwise; the blocks of
    # bench.results.blocks are checked against their classes.
    recipe: dict | None = None
    budget: dict | None = None
    early_stopping: dict | None = None
    dataset: dict | None = None
    model: dict | None = None
    pretrained: dict | None = None
    initialisation: dict | None = None
    settings: dict | None = None
    timing: dict | None = None
    time_to_accuracy: dict | None = None
    compute: dict | None = None
    memory: dict | None = None
    test: dict | None = None  # None for a search's candidate, which never sees the test set
    inference: dict | None = None  # None in records before version 5
    processes: list | None = None  # the processes that ran the epochs (bench.run.trial.train); None before version 6

    def __post_init__(self):
        typed = {field.name: field.type for field in fields(self)}
        for name in typed:
            value = getattr(self, name)
            expected = {"int": int, "str": str, "dict": dict, "list": list}[typed[name].split(" ")[0]]
            if value is not None and not isinstance(value, expected) or value is None and "None" not in typed[name]:
                raise InvalidRecord(f"field {name!r} is {type(value).__name__}, not {typed[name]}")
        if self.status not in STATUSES:
            raise InvalidRecord(f"status {self.status!r} is not one of {', '.join(STATUSES)}")
        if not re.fullmatch(r"[0-9a-f]{16}", self.trial_id):
            raise InvalidRecord(f"trial_id {self.trial_id!r} is not 16 hex digits")
        faults = [block_fault(name, getattr(self, name)) for name in BLOCKS if getattr(self, name) is not None]
        if any(faults):
            raise InvalidRecord(next(fault for fault in faults if fault))
        if self.status == "ok":
            missing = [name for name in ("recipe", "dataset", "model", "settings", "timing", "memory")
                       if getattr(self, name) is None]
            if missing:
                raise InvalidRecord(f"a successful trial's record lacks {', '.join(missing)}")


def validated(record: dict) -> dict:
    """`record` (a dict with this version's fields) checked against the schema, every field present (None
    where absent and optional); InvalidRecord names the fault."""
    unknown = sorted(set(record) - {field.name for field in fields(TrialRecord)})
    if unknown:
        raise InvalidRecord(f"unknown fields {', '.join(unknown)}")
    missing = sorted(field.name for field in fields(TrialRecord)
                     if field.default is MISSING and field.name not in record)
    if missing:
        raise InvalidRecord(f"missing fields {', '.join(missing)}")
    TrialRecord(**record)  # raises InvalidRecord on a fault
    return {field.name: record.get(field.name, field.default) for field in fields(TrialRecord)}


def read(record: dict) -> dict:
    """A record of any known version as this version's, validated; a newer version is refused."""
    version = record.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise InvalidRecord("no schema_version")
    if version > SCHEMA_VERSION:
        raise InvalidRecord(f"schema version {version} is newer than {SCHEMA_VERSION}; upgrade cnnbench")
    if version < 3:
        record = _papers_named(record)
    if version < 4:
        record = _backend_named(record)
    return validated({**record, "schema_version": SCHEMA_VERSION})


RENAMED_IN_3 = {"model": {"report": "paper"}, "recipe": {"report": "paper"},
                "budget": {"report_epochs": "paper_epochs", "matches_report": "matches_paper"}}


def _papers_named(record: dict) -> dict:
    """A version-1 or -2 record with version 3's names for the source papers' fields."""
    renamed = dict(record)
    for part, names in RENAMED_IN_3.items():
        if isinstance(record.get(part), dict):
            renamed[part] = {names.get(key, key): value for key, value in record[part].items()}
    return renamed


BACKEND_BEFORE_4 = IDENTITY_NAMES["backend"]  # the config field that held the backend in versions 1 to 3


def _backend_named(record: dict) -> dict:
    """A version-1 to -3 record with version 4's name for the backend: `config.backend`."""
    if not isinstance(record.get("config"), dict):
        return record
    return {**record, "config": backend_named_calibration(record["config"])}


def backend_named_calibration(values: dict) -> dict:
    """`values` (a calibration record, or a trial's config) with the backend under `backend`, its name since
    schema version 4."""
    return {("backend" if key == BACKEND_BEFORE_4 else key): value for key, value in values.items()}

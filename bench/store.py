"""Append-only raw results: one JSON file per finished trial, written atomically, schema-versioned.

A file is never rewritten: a repeat of a trial is a new file. Readers skip (with a warning
naming the file) anything that is not a result of a schema this code understands.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError

SCHEMA_VERSION = 1
RAW_DIR = "raw"


def raw_dir(results_dir: str | os.PathLike) -> Path:
    return Path(results_dir) / RAW_DIR


def ensure_writable(results_dir: str | os.PathLike) -> Path:
    """Create `results_dir/raw` or fail with a clear BenchError."""
    path = raw_dir(results_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", delete=True)
        probe.close()
    except OSError as err:
        raise BenchError(f"results directory {results_dir} is not writable: "
                         f"{err.strerror or err}") from None
    return path


def write(results_dir, record: dict) -> Path:
    """Write one result atomically (temp file + rename) under a name no other writer can take."""
    config = record["config"]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    model = re.sub(r"[^A-Za-z0-9_.-]", "-", config["model"])  # r4_resnet34:stem=cifar -> r4_resnet34-stem-cifar
    name = (f"{model}_{config['framework']}_{config['device']}_bs{config['batch_size']}"
            f"_seed{config['seed']}_{record['trial_id'][:10]}_{stamp}_{uuid.uuid4().hex[:6]}.json")
    directory = raw_dir(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=directory, prefix=".partial-", suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(record, out, indent=1, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    final = directory / name
    os.replace(partial, final)
    return final


def load(results_dir) -> list[dict]:
    """Every readable result under `results_dir/raw`, sorted by file name; bad files are warned about."""
    records = []
    for path in sorted(raw_dir(results_dir).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            warnings.warn(f"skipping {path}: not readable JSON ({err})", stacklevel=2)
            continue
        if not isinstance(record, dict) or "trial_id" not in record or "schema_version" not in record:
            warnings.warn(f"skipping {path}: not a cnnbench result", stacklevel=2)
            continue
        if record["schema_version"] > SCHEMA_VERSION:
            warnings.warn(f"skipping {path}: schema version {record['schema_version']} is newer than "
                          f"{SCHEMA_VERSION}; upgrade cnnbench", stacklevel=2)
            continue
        record["_file"] = path.name
        records.append(record)
    return records


def finished_trial_ids(results_dir) -> set[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {record["trial_id"] for record in load(results_dir)}

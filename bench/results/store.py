"""Append-only raw results: one JSON file per finished trial, written atomically, schema-versioned.

A file is never rewritten: a repeat of a trial is a new file. Readers skip (with a warning
naming the file) anything that is not a result of a schema this code understands.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tarfile
import tempfile
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import psutil

from bench.errors import BenchError
from bench.results.schema import SCHEMA_VERSION, InvalidRecord, backend_named_calibration, read, validated
from bench.spec.config import TrialConfig, hashed

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


def stamp() -> str:
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}_{uuid.uuid4().hex[:6]}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_bytes_atomically(final: Path, content: bytes) -> Path:
    """Write to a temp file beside `final`, flush it to disk, give it the user's umask (mkstemp makes
    0600 files), then rename it into place: readers never see half a file."""
    handle, partial = tempfile.mkstemp(dir=final.parent, prefix=".partial-", suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(partial, 0o666 & ~_umask())
    os.replace(partial, final)
    return final


def write_json(directory: Path, name: str, record: dict) -> Path:
    """Write `record` as `directory/name`, atomically (see _write_bytes_atomically)."""
    directory.mkdir(parents=True, exist_ok=True)
    return _write_bytes_atomically(directory / name, json.dumps(record, indent=1, sort_keys=True).encode())


def write(results_dir, record: dict) -> Path:
    """Write one result, checked against the schema (bench.results.schema), under a name no other writer
    can take (a timestamp and a random suffix)."""
    record = validated(record)
    config = record["config"]
    model = re.sub(r"[^A-Za-z0-9_.-]", "-", config["model"])  # r4_resnet34:stem=cifar -> r4_resnet34-stem-cifar
    name = (f"{model}_{config['framework']}_{config['device']}_bs{config['batch_size']}"
            f"_seed{config['seed']}_{record['trial_id'][:10]}_{stamp()}.json")
    return write_json(raw_dir(results_dir), name, record)


def read_json_folder(folder, what: str = "file") -> list[tuple[Path, object]]:
    """(path, parsed JSON) of every `*.json` in `folder`, sorted by name; an unreadable file is warned about
    (naming it as `what`) and skipped, so one bad file never stops a report."""
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            found.append((path, json.loads(path.read_text())))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            warnings.warn(f"skipping {what} {path}: not readable JSON ({err})", stacklevel=3)
    return found


def load(results_dir) -> list[dict]:
    """Every readable result under `results_dir/raw`, sorted by file name; bad files are warned about."""
    records = []
    for path, record in read_json_folder(raw_dir(results_dir), "result"):
        if not isinstance(record, dict) or "trial_id" not in record or "schema_version" not in record:
            warnings.warn(f"skipping {path}: not a cnnbench result", stacklevel=2)
            continue
        try:
            record = read(record)  # any older version read as this one
        except InvalidRecord as err:
            warnings.warn(f"skipping {path}: {err}", stacklevel=2)
            continue
        record["_file"] = path.name
        records.append(record)
    return records


def has_result(results_dir, trial_id: str) -> bool:
    """Whether a result of this trial exists: a file named by its id (cheap enough to ask before every trial)
    whose record trained it (trial_key)."""
    for path in raw_dir(results_dir).glob(f"*_{trial_id[:10]}_*.json"):
        try:
            record = read(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError, KeyError, InvalidRecord):
            continue  # unreadable: no result
        if trial_key(record) == trial_id:
            return True
    return False


CLAIMS_DIR = "claims"


def claim(results_dir, trial_id: str) -> Path | None:
    """Claim a trial for this process before running it: the claim file's path, or None when a live
    process holds it (another sweep into the same results directory is running it now).

    A claim is created atomically (a hard link of a complete file, which fails if the name exists);
    one left by a process of this machine that is gone (a crash, kill -9) is stale and taken over.
    """
    directory = Path(results_dir) / CLAIMS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{trial_id}.claim"
    holder = {**this_process(), "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    handle, partial = tempfile.mkstemp(dir=directory, prefix=".partial-")
    with os.fdopen(handle, "w") as out:
        json.dump(holder, out)
    try:
        for _ in range(3):
            try:
                os.link(partial, final)
                return final
            except FileExistsError:
                if not _is_stale(final):
                    return None
                try:  # one taker wins the rename; the others find the name free or freshly claimed
                    os.rename(final, directory / f".stale-{uuid.uuid4().hex}")
                except FileNotFoundError:
                    pass
        return None
    finally:
        os.unlink(partial)
        for tombstone in directory.glob(".stale-*"):
            tombstone.unlink(missing_ok=True)


def _is_stale(claim_file: Path) -> bool:
    """A claim of this machine whose process is gone (or whose pid now belongs to a newer process)."""
    try:
        holder = json.loads(claim_file.read_text())
    except (OSError, json.JSONDecodeError):
        return True
    return process_is_gone(holder)


def this_process() -> dict:
    """Who holds a claim or runs a search's candidate: host, pid and the pid's start time."""
    return {"pid": os.getpid(), "created": psutil.Process().create_time(), "host": socket.gethostname()}


def process_is_gone(holder: dict) -> bool:
    """Whether the process `this_process()` described is gone (its pid dead, a zombie nobody reaped yet, or
    reused); a process of another machine cannot be checked from here and counts as alive."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        process = psutil.Process(holder.get("pid", -1))
        started, zombie = process.create_time(), process.status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, ValueError):
        return True
    return zombie or ("created" in holder and started != holder["created"])


def release(claim_file: Path) -> None:
    claim_file.unlink(missing_ok=True)


def recorded_trial_id(record: dict) -> str | None:
    """The id today's rules give what a record says it trained: its config with the recipe it trained (a
    finished trial's whole recipe, else the part its config hashed), not today's recipe of that name. None
    when its config no longer describes a trial."""
    config = record["config"]
    try:
        recipe = record.get("recipe") or config["resolved_recipe"]
        own_init = (record.get("initialisation") or {}).get("spec_init")
        trial = TrialConfig.from_record(config)
        return hashed(trial.identity(recipe=recipe, own_init=own_init if record["status"] == "ok" else "today's"))
    except (KeyError, TypeError, ValueError, BenchError):
        return None


def trial_key(record: dict) -> str:
    """What tells a repeat of a trial from another trial: recorded_trial_id, so that a trial run again by a later
    version is a repeat when it trained the same; the stored id where the config no longer describes a trial."""
    return recorded_trial_id(record) or record["trial_id"]


def by_trial_id(records: list[dict]) -> dict[str, dict]:
    """Each record under its trial_key, so that a result of an earlier cnnbench version counts as today's trial
    when what it trained is still the same (--resume, bench tune), and not when it trained otherwise, whatever
    id it stored. Of records of one trial, a successful one, then the latest."""
    ranked = sorted(records, key=lambda record: (record["status"] == "ok", record.get("finished_at") or ""))
    return {trial_key(record): record for record in ranked}


def finished_trial_ids(results_dir) -> set[str]:
    """The trials a results directory holds (by_trial_id), unreadable files left out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return set(by_trial_id(load(results_dir)))


CALIBRATION_DIR = "calibration"
YARDSTICK_DIR = "yardstick"  # external reference runs (bench.run.yardstick), never read as trials


def write_calibration(results_dir, record: dict) -> Path:
    """Store one framework's calibration timings beside the raw results (never read as a trial)."""
    name = f"{record['framework']}_{record['device']}_{stamp()}.json"
    return write_json(Path(results_dir) / CALIBRATION_DIR, name, record)


def load_calibrations(results_dir) -> list[dict]:
    """Every readable calibration record under `results_dir/calibration`, in file-name order (the backend under
    its name of schema version 4 in older ones too)."""
    records = [record for _, record in read_json_folder(Path(results_dir) / CALIBRATION_DIR, "calibration file")]
    return [backend_named_calibration(record) for record in records]


def _extract_safely(archive: tarfile.TarFile, target: str) -> None:
    """Extract only plain files and folders inside `target` (tarfile's "data" filter, by hand on Pythons
    before 3.11.4, such as Debian 12's 3.11.2, that lack it)."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(target, filter="data")
        return
    for member in archive.getmembers():
        parts = Path(member.name).parts
        if Path(member.name).is_absolute() or ".." in parts or not (member.isfile() or member.isdir()):
            raise tarfile.TarError(f"member {member.name!r} is not a plain file inside the archive")
    archive.extractall(target)


def import_results(source: str | os.PathLike, results_dir) -> tuple[list[str], list[str]]:
    """Copy the result, calibration and yardstick files of another run (a results directory, or a .tar/.tar.gz
    archive holding one, e.g. what .ci/gpu-run packs) into `results_dir`, byte for byte.

    Files already there under the same name are left alone, so importing twice adds nothing.
    Returns (imported, already present) file names; anything that is not a cnnbench result is refused.
    """
    source = Path(source)
    if not source.exists():
        raise BenchError(f"nothing to import: {source} does not exist")
    with tempfile.TemporaryDirectory(prefix="cnnbench-import-") as scratch:
        if source.is_dir():
            root = source
        else:
            try:
                with tarfile.open(source) as archive:
                    _extract_safely(archive, scratch)
            except (tarfile.TarError, OSError) as err:
                raise BenchError(f"cannot read archive {source}: {str(err).splitlines()[0].rstrip(':')}") from None
            root = Path(scratch)
        found = [path for folder in (RAW_DIR, CALIBRATION_DIR, YARDSTICK_DIR)
                 for path in sorted(root.rglob(f"{folder}/*.json"))]
        if not found:
            raise BenchError(f"{source} holds no {RAW_DIR}/*.json, {CALIBRATION_DIR}/*.json or "
                             f"{YARDSTICK_DIR}/*.json files")
        imported, present = [], []
        for path in found:
            try:
                record = json.loads(path.read_text())
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise BenchError(f"{path.name} in {source} is not readable JSON ({err})") from None
            if not isinstance(record, dict) or "schema_version" not in record:
                raise BenchError(f"{path.name} in {source} is not a cnnbench record")
            target = Path(results_dir) / path.parent.name / path.name
            if target.exists():
                present.append(path.name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_bytes_atomically(target, path.read_bytes())
            imported.append(path.name)
    return imported, present

"""The typed result record (bench.results.schema): checked when written and when read, older versions read
as the current one."""

from __future__ import annotations

import copy
import json

import pytest

from bench.results import schema, store
from tests.conftest import REPO_ROOT


def committed_records() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((REPO_ROOT / "results" / "raw").glob("*.json"))]


def test_every_committed_version_1_file_reads_as_the_current_version():
    records = [record for record in committed_records() if record["schema_version"] == 1]
    assert len(records) >= 177  # every result committed before version 2
    for record in records:
        current = schema.read(record)
        assert current["schema_version"] == schema.SCHEMA_VERSION == 7
        assert current["initialisation"] is None  # version 2's new field
        assert current["config"] == schema.backend_named_calibration(record["config"])  # version 4's backend
        unchanged = set(record) - {"schema_version", "config", *schema.RENAMED_IN_3}
        assert {key: current[key] for key in unchanged} == {key: record[key] for key in unchanged}
        for part, names in schema.RENAMED_IN_3.items():  # version 3's names for the source papers' fields
            if record.get(part) is None:
                assert current[part] is None
                continue
            assert current[part] == {names.get(key, key): value for key, value in record[part].items()}
            assert not set(names) & set(current[part])


def test_a_version_2_record_reads_with_the_papers_named_paper():
    record = next(r for r in committed_records() if r["status"] == "ok" and (r["recipe"] or {}).get("report"))
    current = schema.read({**record, "schema_version": 2, "initialisation": None})
    assert current["recipe"]["paper"] == record["recipe"]["report"] and "report" not in current["recipe"]
    assert current["model"]["paper"] == record["model"]["report"]
    assert current["budget"]["matches_paper"] == record["budget"]["matches_report"]
    assert schema.read(current) == current  # a version-4 record reads as itself


def test_a_version_3_record_reads_with_the_backend_named_backend_and_keeps_its_trial_id():
    version_3 = [r for r in committed_records() if r["schema_version"] == 3 and r["config"]["framework"] == "keras"]
    assert version_3
    for record in version_3:
        current = schema.read(record)
        assert current["config"]["backend"] == record["config"]["keras_backend"] == "tensorflow"
        assert "keras_backend" not in current["config"]
        # the identity hashes the backend under its first name: every id stays as it was
        assert store.recorded_trial_id(current) == record["trial_id"]


@pytest.mark.parametrize(
    "fault, message",
    [
        (lambda r: r.update(surprise=1), "unknown fields surprise"),
        (lambda r: r.pop("config"), "missing fields config"),
        (lambda r: r.update(status="fine"), "status 'fine' is not one of"),
        (lambda r: r.update(trial_id="0123"), "trial_id '0123' is not 16 hex digits"),
        (lambda r: r.update(timing=None), "a successful trial's record lacks timing"),
        (lambda r: r.update(epochs={"1": {}}), "field 'epochs' is dict, not list"),
        (lambda r: r.update(error=3), "field 'error' is int, not str | None"),
        (lambda r: r["timing"].update(epoch_p99_s=1.0), "timing: unknown fields epoch_p99_s"),  # typed blocks
        (lambda r: r["test"].update(accuracy="0.7"), "test.accuracy is str, not float"),
        (lambda r: r["budget"].update(epochs=None), "budget.epochs is NoneType, not int"),
    ],
)
def test_a_record_off_the_schema_is_refused_when_written_and_skipped_when_read(tmp_path, fault, message):
    record = schema.read(next(r for r in committed_records() if r["status"] == "ok"))
    broken = copy.deepcopy(record)
    fault(broken)
    with pytest.raises(schema.InvalidRecord, match=message):
        store.write(tmp_path, broken)
    store.write(tmp_path, record)  # the same record, unbroken, is written
    (tmp_path / "raw" / "broken.json").write_text(json.dumps(broken))
    with pytest.warns(UserWarning, match=message):
        (loaded,) = store.load(tmp_path)
    assert loaded["trial_id"] == record["trial_id"] and loaded["schema_version"] == schema.SCHEMA_VERSION


def test_a_record_from_before_its_models_own_initialisation_is_another_trial():
    from bench.spec.config import TrialConfig

    old = next(r for r in committed_records() if r["config"]["model"] == "r2_squeezenet1_1" and r["status"] == "ok")
    record = schema.read(old)  # trained from the layers' default start, before the spec declared its init
    today = TrialConfig.from_record(record["config"])
    assert today.own_init() and store.trial_key(record) != today.trial_id  # --resume runs it again
    record["initialisation"] = json.loads(json.dumps({"spec_init": today.own_init()}))  # as a record holds it
    assert store.trial_key(record) == today.trial_id

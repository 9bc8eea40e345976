"""`load --dry-run`: the plan of every kind of change (create, update with its fields, delete,
replace) and what deletes take with them, exact on hand-built bundles; nothing is changed. On
every backend, and once end to end through the CLI."""

import json

import pytest

from registry.bundle import BundleInvalid
from registry.subjects.model import KeyHasher
from registry.subjects.service import SubjectService
from tests.graphs import LINEAGE
from tests.test_cli import cli
from tests.test_dsar import DPO

CHANGE = """
purposes:
  - {id: analytics, name: Analytics and pricing}
  - {id: pricing, name: Pricing}
systems:
  - {id: dwh, name: Data warehouse, country: NL, owner: Data office}
  - {id: actuarial, name: Actuarial models, country: DE}
"""


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


def plan(registry, text, **kwargs):
    before, audit = registry.export(), len(registry.audit(limit=1000))
    planned = registry.plan([("change.yaml", text)], **kwargs)
    assert registry.export() == before and len(registry.audit(limit=1000)) == audit
    return [(c.action, c.type, c.id, c.fields) for c in planned.changes], planned


def test_a_plan_lists_creates_and_updates_with_their_fields(loaded):
    changes, planned = plan(loaded, CHANGE)
    assert changes == [
        ("update", "purpose", "analytics", ["name"]),
        ("create", "purpose", "pricing", []),
        ("update", "system", "dwh", ["country", "owner"]),
    ]
    assert planned.unchanged == 1 and planned.taken == {}


def test_a_plan_of_the_same_bundle_changes_nothing(loaded):
    changes, planned = plan(loaded, LINEAGE)
    assert changes == [] and planned.unchanged == 22


def test_a_replace_plan_deletes_what_the_bundles_do_not_define(loaded):
    changes, planned = plan(loaded, LINEAGE.replace("  - {id: f6, name:", "  - {id: f7, name:"), replace=True)
    assert changes == [("create", "flow", "f7", []), ("delete", "flow", "f6", [])]
    assert planned.unchanged == 21


def test_deletes_name_the_subject_data_they_take_with_them(loaded, tmp_path):
    service = SubjectService(loaded, KeyHasher(b"secret"))
    path = tmp_path / "subjects.jsonl"
    path.write_text("\n".join(json.dumps(s) for s in [
        {"id": "C-1", "kind": "claimant", "records": [{"system": "crm"}, {"system": "claims"}],
         "consents": [{"purpose": "analytics", "status": "granted", "at": "2025-01-01T00:00:00Z"}]},
        {"id": "C-2", "kind": "claimant", "records": [{"system": "crm"}],
         "consents": [{"purpose": "analytics", "status": "withdrawn", "at": "2025-01-01T00:00:00Z"},
                      {"purpose": "underwriting", "status": "granted", "at": "2025-01-01T00:00:00Z"}]}]) + "\n")
    service.load(path, principal=DPO)
    keep = "categories:\n  - {id: contact, name: Contact details}\npurposes:\n  - {id: underwriting, name: Underwriting}\n"
    changes, planned = plan(loaded, keep, replace=True)
    assert [(action, id_) for action, _, id_, _ in changes if action != "delete"] == []
    assert {id_: (t.records, t.consents) for id_, t in planned.taken.items()} == {
        "crm": (2, 0), "claims": (1, 0), "analytics": (0, 2)}
    assert len([c for c in changes if c[0] == "delete"]) == 20


def test_an_invalid_bundle_has_no_plan(loaded):
    with pytest.raises(BundleInvalid) as caught:
        loaded.plan([("change.yaml", "systems:\n  - {id: dwh, name: DWH, country: Netherlands}\n")])
    assert [str(p) for p in caught.value.problems] == [
        "change.yaml:2:35: system 'dwh': country: 'Netherlands' is not an ISO 3166-1 alpha-2 country code"]


def test_the_cli_prints_the_plan_as_text_or_json_and_exits_0_or_2(tmp_path):
    (tmp_path / "lineage.yaml").write_text(LINEAGE)
    (tmp_path / "change.yaml").write_text(CHANGE)
    assert cli("load", "lineage.yaml", cwd=tmp_path).returncode == 0
    before = cli("export", cwd=tmp_path).stdout
    text = cli("load", "--dry-run", "change.yaml", cwd=tmp_path)
    assert (text.returncode, text.stdout) == (0, "update  purpose      analytics: name\n"
                                                 "create  purpose      pricing\n"
                                                 "update  system       dwh: country, owner\n"
                                                 "would create 1, update 2, delete 0; unchanged 1 "
                                                 "(dry run: nothing was changed)\n")
    as_json = cli("load", "--dry-run", "--replace", "--format", "json", "lineage.yaml", "change.yaml", cwd=tmp_path)
    assert as_json.returncode == 2  # the two bundles define the same ids
    as_json = cli("load", "--dry-run", "--replace", "--format", "json", "change.yaml", cwd=tmp_path)
    assert as_json.returncode == 0
    output = json.loads(as_json.stdout)
    assert output["counts"] == {"create": 1, "update": 2, "delete": 19, "unchanged": 1}
    assert output["changes"][:2] == [{"action": "update", "type": "purpose", "id": "analytics", "fields": ["name"]},
                                      {"action": "create", "type": "purpose", "id": "pricing"}]
    assert {"action": "delete", "type": "flow", "id": "f6"} in output["changes"]
    assert cli("export", cwd=tmp_path).stdout == before
    missing = cli("--store", "new.db", "load", "--dry-run", "change.yaml", cwd=tmp_path)
    assert missing.returncode == 0 and "would create 4, update 0" in missing.stdout
    assert not (tmp_path / "new.db").exists()

"""`load --dry-run`: the plan of every kind of change (create, update with its fields, delete,
replace) and what deletes take with them, exact on hand-built bundles; nothing is changed. On
every backend, and once end to end through the CLI."""

import json

import pytest

from graph.subjects import SubjectRow
from registry.bundle import BundleInvalid, references
from registry.errors import InvalidArgument
from registry.model import SECTIONS
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.graphs import LINEAGE
from tests.subject_graphs import bundles
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
    assert planned.taken == {"analytics": {"consents": 2}, "claims": {"records": 1}, "crm": {"records": 2}}
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


# --- every kind of subject reference, planned as the load refuses it ------------------------------

C1 = SubjectRow("C-1", "policyholder",
                [{"system": "crm"}, {"system": "claims", "categories": ["health.diagnosis"], "source": "broker"}],
                [{"purpose": "marketing", "status": "granted", "at": "2024-01-10T09:00:00Z"}])


@pytest.fixture
def subjects(registry):
    """tests.subject_graphs with subject categories, and C-1 (a policyholder with records in crm and, of
    diagnoses from the broker, in claims; a consent for marketing) with a disclosure on `fraud`."""
    registry.load(bundles(), actor="test")
    for id_, name in (("policyholder", "Policyholders"), ("claimant", "Claimants")):
        registry.upsert("subject-category", {"id": id_, "name": name}, actor="test")
    registry.store.write_subjects([C1], actor="test", source="subjects.jsonl")
    registry.store.add_disclosure("C-1", {"flow": "fraud", "at": "2025-01-02T00:00:00Z", "reference": "case 7"},
                                  actor="test")
    return registry


def without(bundle: dict, id_: str) -> tuple[dict, set[str]]:
    """`bundle` without `id_` and every document that refers to what is left out (transitively),
    and the ids left out."""
    gone, more = set(), {id_}
    while more:
        gone |= more
        more = {doc["id"] for section, docs in bundle.items() for doc in docs if doc["id"] not in gone
                and any(target in gone for _, _, target in references(SECTIONS[section], doc))}
    return {section: [doc for doc in docs if doc["id"] not in gone] for section, docs in bundle.items()}, gone


@pytest.mark.parametrize("type_, id_, kind", [
    ("system", "crm", "records"),
    ("category", "health.diagnosis", "record categories"),
    ("party", "broker", "record sources"),
    ("purpose", "marketing", "consents"),
    ("subject-category", "policyholder", "kind"),
    ("flow", "fraud", "disclosures"),
])
def test_a_replace_plan_names_every_kind_of_subject_data_its_deletes_take_and_the_load_refuses_them(
        subjects, type_, id_, kind):
    bundle, gone = without(subjects.export(), id_)
    planned = subjects.plan([("next.json", json.dumps(bundle))], replace=True)
    assert sorted(c.id for c in planned.changes if c.action == "delete") == sorted(gone)
    assert (type_, id_) in {(c.type, c.id) for c in planned.changes}
    assert planned.taken[id_] == {kind: 1}
    before = subjects.export()
    with pytest.raises(InvalidArgument) as refused:
        subjects.load_data(bundle, source="next.json", actor="test", replace=True)
    assert f"{type_} {id_!r} cannot be deleted: still referenced by the {kind} of 1 data subject(s)" in str(refused.value)
    for other, counts in planned.taken.items():  # everything else the plan names, the load refuses too
        for what, n in counts.items():
            assert f"{other!r} cannot be deleted: still referenced by the {what} of {n} data subject(s)" \
                in str(refused.value)
    assert subjects.export() == before


def test_a_plan_deleting_several_referenced_entities_names_each_with_its_own_kind(subjects):
    bundle, gone = without(subjects.export(), "health")  # claims holds health, fraud carries diagnoses
    assert {"health.diagnosis", "claims", "fraud", "crm", "broker"} & gone == {"health.diagnosis", "claims", "fraud"}
    assert subjects.plan([("next.json", json.dumps(bundle))], replace=True).taken == {
        "claims": {"records": 1}, "fraud": {"disclosures": 1}, "health.diagnosis": {"record categories": 1}}


@pytest.mark.parametrize("type_, id_", [
    ("system", "dwh"),  # no subject has records there
    ("category", "health.diagnosis.oncology"),  # C-1's records name its parent
    ("party", "adco"),  # a party, but no record's source
    ("purpose", "wellness"),  # nobody consented to it
    ("subject-category", "claimant"),  # nobody is one
    ("flow", "m1"),  # a flow nothing was disclosed on
])
def test_a_near_miss_no_subject_data_names_is_planned_for_deletion_without_a_note_and_goes(subjects, type_, id_):
    bundle, gone = without(subjects.export(), id_)
    planned = subjects.plan([("next.json", json.dumps(bundle))], replace=True)
    assert (("delete", type_, id_) in {(c.action, c.type, c.id) for c in planned.changes}, planned.taken) == (True, {})
    assert subjects.load_data(bundle, source="next.json", actor="test", replace=True).deleted == len(gone)
    assert id_ not in subjects.store.types_by_id()


def test_the_cli_plan_names_the_kind_and_count_of_any_subject_reference(tmp_path):
    for name, text in bundles():
        (tmp_path / name).write_text(text)
    (tmp_path / "subjects.jsonl").write_text(json.dumps({
        "id": "C-1", "kind": "policyholder",
        "records": [{"system": "claims", "categories": ["health.diagnosis"], "source": "broker"}]}) + "\n")
    for args in (["load", "extra.yaml", "lineage.yaml"], ["subjects", "load", "subjects.jsonl"]):
        assert cli(*args, cwd=tmp_path).returncode == 0
    (tmp_path / "next.yaml").write_text((tmp_path / "lineage.yaml").read_text().replace(
        "  - {id: broker, name: Broker, kind: broker, country: DE, role: controller}\n", "").replace(
        "  - {id: b1, name: Applications, from: broker, to: crm, categories: [contact], purpose: underwriting, "
        "legal_basis: gdpr-6-1-b}\n", ""))
    text = cli("load", "--dry-run", "--replace", "extra.yaml", "next.yaml", cwd=tmp_path)
    assert text.returncode == 0 and text.stdout.splitlines() == [
        "delete  flow         b1",
        "delete  party        broker  (the record sources of 1 data subject(s) refer to it: refused without --force)",
        "would create 0, update 0, delete 2; unchanged 30 (dry run: nothing was changed)"]
    as_json = json.loads(cli("load", "--dry-run", "--replace", "--format", "json", "extra.yaml", "next.yaml",
                             cwd=tmp_path).stdout)
    assert as_json["changes"] == [{"action": "delete", "type": "flow", "id": "b1"},
                                  {"action": "delete", "type": "party", "id": "broker",
                                   "takes": {"record sources": 1}}]
    refused = cli("load", "--replace", "extra.yaml", "next.yaml", cwd=tmp_path)
    assert refused.returncode == 2 and "party 'broker' cannot be deleted: still referenced by the record sources " \
        "of 1 data subject(s)" in refused.stderr
    checked = cli("--store", "registry.db", "check", "--replace", "extra.yaml", "next.yaml", cwd=tmp_path)
    assert checked.returncode == 2 and "party 'broker' cannot be deleted: still referenced by the record " \
        "sources of 1 data subject(s)" in checked.stderr


def test_a_replace_giving_a_referenced_entity_another_type_is_planned_and_refused_like_its_delete(subjects):
    bundle, _ = without(subjects.export(), "broker")
    bundle["systems"].append({"id": "broker", "name": "Broker portal", "country": "DE"})
    planned = subjects.plan([("next.json", json.dumps(bundle))], replace=True)
    assert [(c.action, c.type, c.id) for c in planned.changes if c.id in ("broker", "b1")] == [
        ("update", "system", "broker"), ("delete", "flow", "b1")]
    assert planned.taken == {"broker": {"record sources": 1}}
    before = subjects.export()
    with pytest.raises(InvalidArgument, match=r"^party 'broker' cannot become a system: still referenced by the record "
                                              r"sources of 1 data subject\(s\) \(force deletes it anyway"):
        subjects.load_data(bundle, source="next.json", actor="test", replace=True)
    assert subjects.export() == before
    subjects.load_data(bundle, source="next.json", actor="dpo", replace=True, force=True)
    [forced] = [e for e in subjects.audit(limit=1000) if e.action == "force"]
    assert (forced.actor, forced.type, forced.id, forced.after) == ("dpo", "party", "broker",
                                                                    {"subjects": {"record sources": 1}})


def test_a_replace_giving_an_entity_no_subject_data_names_another_type_goes_ahead(subjects):
    bundle = subjects.export()
    bundle["subject_categories"] = [c for c in bundle["subject_categories"] if c["id"] != "claimant"]
    bundle["purposes"].append({"id": "claimant", "name": "Claimant outreach"})
    planned = subjects.plan([("next.json", json.dumps(bundle))], replace=True)
    assert ([(c.action, c.type, c.id) for c in planned.changes], planned.taken) == (
        [("update", "purpose", "claimant")], {})
    assert subjects.load_data(bundle, source="next.json", actor="test", replace=True).updated == 1

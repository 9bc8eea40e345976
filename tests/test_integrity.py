"""Referential integrity as a guarantee, on both backends: references are checked again inside the
transaction that applies a write (a writer that validated against a state another writer has
changed since is refused, and nothing changes), and deletes and replaces respect everything that
refers to an entity, subject data included, unless forced (audited with the counts)."""

from __future__ import annotations

import pytest

from graph.store import IntegrityError
from graph.subjects import SubjectRow
from registry.audit import AuditTrail
from registry.auth.roles import Principal
from registry.bundle import Item, Source
from registry.errors import InvalidArgument
from registry.integrity import WriteCheck
from registry.subjects.service import SubjectService
from tests.subject_graphs import bundles

ADMIN = Principal("test", frozenset({"admin"}))
C1 = SubjectRow("C-1", "policyholder", [{"system": "crm"},
                                        {"system": "claims", "categories": ["health.diagnosis"], "source": "broker"}],
                [{"purpose": "marketing", "status": "granted", "at": "2024-01-10T09:00:00Z"}])


@pytest.fixture
def loaded(registry):
    registry.load(bundles(), actor="test")
    registry.store.write_subjects([C1], actor="test", source="subjects.jsonl")
    return registry


def validated(registry, type_: str, raw: dict) -> WriteCheck:
    """A change validated now, to be applied later (as a writer that lost a race would)."""
    return WriteCheck(*registry._checked([Item(Source("input"), (), type_, raw)], False))


def intact(registry) -> bool:
    return AuditTrail(registry.store).verify(principal=ADMIN).intact


# --- checked inside the transaction ----------------------------------------------------------------

def test_an_upsert_validated_before_its_purpose_was_deleted_is_refused_and_changes_nothing(registry):
    registry.load(bundles(), actor="test")
    registry.upsert("purpose", {"id": "pricing", "name": "Pricing"}, actor="test")
    late = validated(registry, "flow", {"id": "f-price", "name": "Pricing feed", "from": "crm", "to": "dwh",
                                        "categories": ["contact"], "purpose": "pricing"})
    registry.delete("purpose", "pricing", actor="other")
    before = registry.export()
    with pytest.raises(InvalidArgument, match=r"^the registry changed meanwhile: flow 'f-price': purpose: "
                                              r"unknown purpose 'pricing'; nothing was changed$"):
        registry._write(late, actor="test")
    assert registry.export() == before and intact(registry)


def test_a_delete_checked_before_a_flow_started_using_the_purpose_is_refused(registry):
    registry.load(bundles(), actor="test")
    registry.upsert("purpose", {"id": "pricing", "name": "Pricing"}, actor="test")
    late = WriteCheck([], ["pricing"])
    registry.upsert("flow", {"id": "f-price", "name": "Pricing feed", "from": "crm", "to": "dwh",
                             "categories": ["contact"], "purpose": "pricing"}, actor="other")
    with pytest.raises(InvalidArgument, match=r"purpose 'pricing' cannot be deleted: still referenced by "
                                              r"flow 'f-price' \(purpose\)"):
        registry._write(late, actor="test")
    assert registry.entity("pricing", "purpose")


def test_two_parents_set_concurrently_cannot_close_a_cycle(registry):
    for id_ in ("x", "y"):
        registry.upsert("category", {"id": id_, "name": id_}, actor="test")
    first = validated(registry, "category", {"id": "x", "name": "x", "parent": "y"})
    second = validated(registry, "category", {"id": "y", "name": "y", "parent": "x"})
    registry._write(first, actor="a")
    with pytest.raises(InvalidArgument, match=r"the registry changed meanwhile: category 'y': parent cycle: "
                                              r"y → x → y; nothing was changed"):
        registry._write(second, actor="b")
    assert registry.entity("y", "category").doc.get("parent") is None


def test_an_id_created_concurrently_with_another_type_is_refused(registry):
    late = validated(registry, "purpose", {"id": "crm", "name": "CRM purpose"})
    registry.upsert("system", {"id": "crm", "name": "CRM", "country": "DE"}, actor="other")
    with pytest.raises(InvalidArgument, match="id 'crm' is already used by a system"):
        registry._write(late, actor="test")


def test_a_subject_load_naming_a_system_deleted_since_its_validation_keeps_nothing(loaded):
    store = loaded.store
    loaded.upsert("system", {"id": "archive", "name": "Archive", "country": "DE"}, actor="test")
    rows = [SubjectRow(f"A-{i}", "policyholder", [{"system": "archive"}], []) for i in range(3)]
    loaded.delete("system", "archive", actor="other")  # after the rows were checked, before they apply
    with pytest.raises(IntegrityError, match=r"nothing of late.jsonl was recorded: its records name system ids the "
                                             r"registry does not have \(deleted meanwhile\?\): 'archive'"):
        store.write_subjects(iter(rows), actor="test", source="late.jsonl")
    assert store.subject("A-0") is None and store.count_subjects(["archive"]) == 0 and intact(loaded)


@pytest.mark.parametrize("record, kind, type_, missing", [
    ({"system": "crm", "categories": ["gone"]}, "record categories", "category", "gone"),
    ({"system": "crm", "source": "gone"}, "record sources", "party", "gone"),
    ({"system": "broker"}, "records", "system", "broker"),  # an id the registry has, of another type
    ({"system": "crm", "categories": ["contact", "crm"]}, "record categories", "category", "crm"),
    ({"system": "crm", "source": "crm"}, "record sources", "party", "crm"),
])
def test_a_subject_load_naming_any_missing_entity_keeps_nothing(loaded, record, kind, type_, missing):
    with pytest.raises(IntegrityError, match=f"its {kind} name {type_} ids .*: '{missing}'$"):
        loaded.store.write_subjects([SubjectRow("N-1", "policyholder", [record], [])], actor="t", source="n.jsonl")
    assert loaded.store.subject("N-1") is None


@pytest.mark.parametrize("purpose", ["gone", "crm"])
def test_a_subject_load_with_a_consent_naming_no_purpose_keeps_nothing(loaded, purpose):
    consent = {"purpose": purpose, "status": "granted", "at": "2024-01-10T09:00:00Z"}
    rows = [SubjectRow(f"N-{i}", "policyholder", [{"system": "crm"}], [consent] if i == 2 else []) for i in range(4)]
    with pytest.raises(IntegrityError, match=f"its consents name purpose ids .*: '{purpose}'$"):
        loaded.store.write_subjects(rows, actor="t", source="n.jsonl")
    assert all(loaded.store.subject(f"N-{i}") is None for i in range(4))


def test_a_subject_load_lists_each_missing_id_once_in_order(loaded):
    rows = [SubjectRow(f"N-{i}", "policyholder", [{"system": "crm"}, {"system": f"gone-{i % 3}"}], [])
            for i in range(9)]
    with pytest.raises(IntegrityError, match=r"its records name system ids .*: 'gone-0', 'gone-1', 'gone-2'$"):
        loaded.store.write_subjects(rows, actor="t", source="n.jsonl")


def test_a_consent_for_a_purpose_deleted_meanwhile_is_refused(loaded):
    loaded.upsert("purpose", {"id": "pricing", "name": "Pricing"}, actor="test")
    loaded.delete("purpose", "pricing", actor="other")
    with pytest.raises(IntegrityError, match="unknown purpose 'pricing'"):
        loaded.store.add_consent("C-1", {"purpose": "pricing", "status": "granted", "at": "2025-01-01T00:00:00Z"},
                                 actor="test")
    assert [c["purpose"] for c in loaded.store.subject("C-1").consents] == ["marketing"]


def test_a_consent_or_disclosure_whose_entity_is_deleted_between_check_and_write_is_bad_input(loaded, monkeypatch):
    service = SubjectService(loaded)
    loaded.upsert("purpose", {"id": "pricing", "name": "Pricing"}, actor="test")
    checked, deleting = loaded.entity, []

    def then_deleted(id_, *types, **named):  # another writer deletes it after the service found it, before the write
        found = checked(id_, *types, **named)
        if not deleting:
            deleting.append(id_)
            loaded.delete(found.type, id_, actor="other")
            deleting.clear()
        return found

    monkeypatch.setattr(loaded, "entity", then_deleted)
    with pytest.raises(InvalidArgument, match=r"^unknown purpose 'pricing': nothing was recorded$"):
        service.set_consent(principal=ADMIN, subject="C-1", purpose="pricing", status="granted")
    with pytest.raises(InvalidArgument, match=r"^unknown flow 'fraud': nothing was recorded$"):
        service.disclose(principal=ADMIN, subject="C-1", flow="fraud", reference="case 9")
    row = loaded.store.subject("C-1")
    assert ([c["purpose"] for c in row.consents], row.disclosures) == (["marketing"], [])
    assert loaded.store.get_many(["pricing", "fraud"]) == {} and intact(loaded)


# --- deletes and replaces respect what refers to an entity -------------------------------------------

def test_a_purpose_with_consents_cannot_be_deleted_so_withdrawal_stays_possible(loaded):
    with pytest.raises(InvalidArgument, match=r"^purpose 'marketing' cannot be deleted: still referenced by agreement "
                                              r"'dpa-adco' \(purposes\[0\]\), flow 'm1' \(purpose\), the consents of "
                                              r"1 data subject\(s\) \(change those documents first\)$"):
        loaded.delete("purpose", "marketing", actor="test", force=True)  # force cannot orphan documents
    for type_, id_ in (("flow", "m1"), ("agreement", "dpa-adco")):
        loaded.delete(type_, id_, actor="test")
    with pytest.raises(InvalidArgument, match=r"^purpose 'marketing' cannot be deleted: still referenced by the "
                                              r"consents of 1 data subject\(s\) \(force deletes it anyway"):
        loaded.delete("purpose", "marketing", actor="test")
    # Art. 7(3): the subject can still withdraw
    SubjectService(loaded).set_consent(principal=ADMIN, subject="C-1", purpose="marketing", status="withdrawn")
    [group] = loaded.store.consent_groups(["marketing"])
    assert ([e["status"] for e in group.events], group.subjects) == (["granted", "withdrawn"], 1)


def test_a_forced_delete_keeps_the_subject_data_and_is_audited_with_the_count(loaded):
    for type_, id_ in (("flow", "m1"), ("agreement", "dpa-adco")):
        loaded.delete(type_, id_, actor="test")
    since = loaded.audit(limit=1000)[-1].seq
    loaded.delete("purpose", "marketing", actor="dpo", force=True)
    entries = [(e.actor, e.action, e.type, e.id, e.after) for e in loaded.audit(since=since)]
    assert entries == [("dpo", "delete", "purpose", "marketing", None),
                       ("dpo", "force", "purpose", "marketing", {"subjects": {"consents": 1}})]
    assert [c["purpose"] for c in loaded.store.subject("C-1").consents] == ["marketing"]  # the history stays
    assert intact(loaded)


@pytest.mark.parametrize("type_, id_, referrers", [
    ("system", "crm", r"flow 'b1' \(to\), flow 'f6' \(from\), flow 'm1' \(from\), the records of 1 data subject"),
    ("category", "health.diagnosis", r"category 'health.diagnosis.oncology' \(parent\), flow '.*"
                                     r"the record categories of 1 data subject"),
    ("party", "broker", r"flow 'b1' \(from\), the record sources of 1 data subject"),
])
def test_each_kind_of_subject_reference_holds_its_entity(loaded, type_, id_, referrers):
    with pytest.raises(InvalidArgument, match=f"{type_} '{id_}' cannot be deleted: still referenced by {referrers}"):
        loaded.delete(type_, id_, actor="test")
    assert loaded.entity(id_, type_)


def test_a_subject_category_that_subjects_are_of_cannot_be_deleted(registry):
    registry.load(bundles(), actor="test")
    registry.upsert("subject-category", {"id": "customer", "name": "Customers"}, actor="test")
    registry.store.write_subjects([SubjectRow("K-1", "customer", [{"system": "crm"}], [])], actor="t", source="k")
    with pytest.raises(InvalidArgument, match=r"subject-category 'customer' cannot be deleted: still referenced by "
                                              r"the kind of 1 data subject\(s\)"):
        registry.delete("subject-category", "customer", actor="test")


def test_a_replace_that_would_drop_subject_data_is_refused_in_one_message_unless_forced(loaded):
    bundle = loaded.export()
    bundle["systems"] = [s for s in bundle["systems"] if s["id"] != "crm"]
    bundle["flows"] = [f for f in bundle["flows"] if "crm" not in (f["from"], f["to"])]
    before = loaded.export()
    with pytest.raises(InvalidArgument) as refused:
        loaded.load_data(bundle, source="next.yaml", actor="test", replace=True)
    assert str(refused.value) == ("system 'crm' cannot be deleted: still referenced by the records of 1 data "
                                  "subject(s) (force deletes it anyway, keeping the subject data, audited)")
    assert loaded.export() == before
    result = loaded.load_data(bundle, source="next.yaml", actor="dpo", replace=True, force=True)
    assert result.deleted == 4  # crm and its flows b1, f6, m1
    [forced] = [e for e in loaded.audit(limit=1000) if e.action == "force"]
    assert (forced.actor, forced.type, forced.id, forced.after) == ("dpo", "system", "crm",
                                                                    {"subjects": {"records": 1}})
    assert loaded.store.count_subjects(["crm"]) == 1 and intact(loaded)


def test_a_replace_keeping_everything_subject_data_names_goes_ahead(loaded):
    bundle = loaded.export()
    bundle["systems"].append({"id": "archive", "name": "Archive", "country": "DE"})
    assert loaded.load_data(bundle, source="next.yaml", actor="test", replace=True).created == 1


def test_the_cli_refuses_a_replace_that_drops_subject_data_in_one_line_unless_forced(tmp_path):
    from tests.test_cli import cli
    from tests.graphs import LINEAGE
    (tmp_path / "all.yaml").write_text(LINEAGE)
    (tmp_path / "subjects.jsonl").write_text('{"id": "C-9", "kind": "policyholder", "records": [{"system": "dwh"}]}\n')
    (tmp_path / "nothing.yaml").write_text("{}\n")
    for args in (["load", "all.yaml"], ["subjects", "load", "subjects.jsonl"]):
        assert cli(*args, cwd=tmp_path).returncode == 0
    refused = cli("load", "--replace", "nothing.yaml", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == "" and len(refused.stderr.splitlines()) == 1
    assert "system 'dwh' cannot be deleted: still referenced by the records of 1 data subject(s) (force" in refused.stderr
    steward = cli("load", "--replace", "--force", "nothing.yaml", cwd=tmp_path, env={"DSA_REGISTRY_ROLES": "steward"})
    assert steward.returncode == 2 and "lacks the 'subject-data:write' permission" in steward.stderr
    forced = cli("load", "--replace", "--force", "nothing.yaml", cwd=tmp_path)
    assert (forced.returncode, forced.stdout) == (0, "created 0, updated 0, deleted 22, unchanged 0\n")


def test_a_flow_the_data_of_subjects_was_disclosed_on_cannot_be_deleted(loaded):
    loaded.store.add_disclosure("C-1", {"flow": "f6", "at": "2025-01-02T00:00:00Z", "reference": "case 7"},
                                actor="test")
    with pytest.raises(InvalidArgument, match=r"^flow 'f6' cannot be deleted: still referenced by the disclosures of "
                                              r"1 data subject\(s\) \(force deletes it anyway"):
        loaded.delete("flow", "f6", actor="test")
    loaded.delete("flow", "m1", actor="test")  # a flow nothing was disclosed on goes
    with pytest.raises(IntegrityError, match="unknown flow 'm1': nothing was recorded"):
        loaded.store.add_disclosure("C-1", {"flow": "m1", "at": "2025-01-03T00:00:00Z"}, actor="test")

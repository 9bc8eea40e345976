"""What a subject load leaves, line by line, on every backend: subjects new to the store created
whole, subjects it holds replaced (records and keys) with their consents and disclosures merged,
a subject that comes twice in a batch or in two batches taken from its last line, a key moved to
the subject that names it last. Small batches, so one load spans several."""

import json

import pytest

from graph.subjects import SubjectRow
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService
from tests.subject_graphs import bundles
from tests.test_subject_load import DPO, SECRET

BATCH = 4


def granted(at: str, notice: str | None = None) -> dict:
    return {"purpose": "marketing", "status": "granted", "at": at, **({"notice": notice} if notice else {})}


FIRST = [
    {"id": "A", "kind": "insured", "records": [{"system": "crm"}], "consents": [granted("2025-01-01T00:00:00+00:00")],
     "keys": {"email": "a@example.org"}},
    {"id": "B", "kind": "insured", "records": [{"system": "claims"}], "keys": {"email": "b@example.org"}},
]
SECOND = [  # batches of 4: [A N1 D N2] [D K P Q] [N3 E N4 E]
    {"id": "A", "kind": "policyholder", "records": [{"system": "claims"}, {"system": "claims"}],
     "consents": [granted("2025-02-01T00:00:00+00:00", "v2")], "keys": {"email": "a2@example.org"}},
    {"id": "N1", "kind": "insured", "records": [{"system": "crm"}, {"system": "claims", "source": "broker"}],
     "consents": [granted("2025-03-01T00:00:00+00:00"), {"purpose": "marketing", "status": "withdrawn",
                                                    "at": "2025-04-01T00:00:00+00:00", "channel": "web"}],
     "disclosures": [{"flow": "fraud", "at": "2026-01-05T10:00:00+00:00", "reference": "F-1"}],
     "keys": {"email": "n1@example.org"}},
    {"id": "D", "kind": "insured", "records": [{"system": "crm"}], "consents": [granted("2025-05-01T00:00:00+00:00")]},
    {"id": "N2", "kind": "insured", "records": [{"system": "claims", "categories": ["health.diagnosis"]}]},
    {"id": "D", "kind": "insured", "records": [{"system": "claims"}], "consents": [granted("2025-06-01T00:00:00+00:00")],
     "keys": {"email": "d@example.org"}},
    {"id": "K", "kind": "insured", "records": [{"system": "crm"}], "keys": {"email": "b@example.org"}},
    {"id": "P", "kind": "insured", "records": [{"system": "crm"}], "keys": {"email": "shared@example.org"}},
    {"id": "Q", "kind": "insured", "records": [{"system": "crm"}], "keys": {"email": "shared@example.org"}},
    {"id": "N3", "kind": "insured", "records": [{"system": "crm"}],
     "disclosures": [{"flow": "fraud", "at": "2026-01-06T10:00:00+00:00", "reference": "F-2"}]},
    {"id": "E", "kind": "insured", "records": [{"system": "crm"}], "keys": {"email": "e1@example.org"}},
    {"id": "N4", "kind": "insured", "records": [{"system": "claims"}], "consents": [granted("2025-07-01T00:00:00+00:00")]},
    {"id": "E", "kind": "insured", "records": [{"system": "claims"}], "keys": {"email": "e2@example.org"}},
]


@pytest.fixture
def loaded(registry, store, tmp_path, monkeypatch):
    monkeypatch.setattr("graph.neo4j.subject_load.SUBJECT_BATCH", BATCH)
    monkeypatch.setattr("graph.embedded.subject_load.SUBJECT_BATCH", BATCH)
    registry.load(bundles(), actor="test")
    service = SubjectService(registry, KeyHasher(SECRET))
    for name, lines in (("first.jsonl", FIRST), ("second.jsonl", SECOND)):
        path = tmp_path / name
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        assert service.load(path, principal=DPO) == len(lines)
    return store


def key(email: str) -> str:
    return KeyHasher(SECRET).hash("email", email)


def test_every_line_of_a_load_spanning_batches_leaves_what_it_says(loaded):
    assert loaded.subject("A") == SubjectRow(
        id="A", kind="policyholder", records=[{"system": "claims"}, {"system": "claims"}],
        consents=[granted("2025-01-01T00:00:00+00:00"), granted("2025-02-01T00:00:00+00:00", "v2")])
    assert loaded.subject("N1") == SubjectRow(
        id="N1", kind="insured", records=[{"system": "crm"}, {"system": "claims", "source": "broker"}],
        consents=[granted("2025-03-01T00:00:00+00:00"), {"purpose": "marketing", "status": "withdrawn",
                                                    "at": "2025-04-01T00:00:00+00:00", "channel": "web"}],
        disclosures=[{"flow": "fraud", "at": "2026-01-05T10:00:00+00:00", "reference": "F-1"}])
    assert loaded.subject("D") == SubjectRow(id="D", kind="insured", records=[{"system": "claims"}],
                                             consents=[granted("2025-05-01T00:00:00+00:00"), granted("2025-06-01T00:00:00+00:00")])
    assert loaded.subject("N2").records == [{"system": "claims", "categories": ["health.diagnosis"]}]
    assert loaded.subject("E").records == [{"system": "claims"}]
    assert loaded.subject("N3").disclosures == [{"flow": "fraud", "at": "2026-01-06T10:00:00+00:00", "reference": "F-2"}]
    assert loaded.subject_total() == 11


def test_index_entries_follow_each_subjects_last_line(loaded):
    assert {email: loaded.subject_by_key(key(email)) for email in (
        "a@example.org", "a2@example.org", "b@example.org", "n1@example.org", "d@example.org", "shared@example.org",
        "e1@example.org", "e2@example.org")} == {
        "a@example.org": None, "a2@example.org": "A", "b@example.org": "K", "n1@example.org": "N1",
        "d@example.org": "D", "shared@example.org": "Q", "e1@example.org": None, "e2@example.org": "E"}
    assert loaded.subject_ids(["crm"], 100) == ["K", "N1", "N3", "P", "Q"]
    assert loaded.count_subjects(["claims"]) == 7  # A (once, for two records), B, N1, N2, D, N4, E
    assert loaded.count_consenting(["marketing"]) == 4  # A, N1, D, N4
    assert loaded.count_disclosures(["fraud"]) == {"fraud": 2}


@pytest.mark.parametrize("lines", [
    [{"id": "R", "kind": "insured", "records": [{"system": "crm"}],
      "consents": [granted("2025-01-01T00:00:00+00:00", "v1"), granted("2025-01-01T00:00:00+00:00", "v2")]}],
    [{"id": "R", "kind": "insured", "records": [{"system": "crm"}], "consents": [granted("2025-01-01T00:00:00+00:00", "v1")]},
     {"id": "R", "kind": "insured", "records": [{"system": "crm"}], "consents": [granted("2025-01-01T00:00:00+00:00", "v2")]}],
], ids=["in-one-line", "on-two-lines"])
def test_a_consent_event_given_twice_keeps_what_was_given_last(registry, store, tmp_path, lines):
    """The same event (time, purpose, status) again: one event, with the notice, channel and expiry
    given last, within a line as across lines (`CONSENT_CONFLICT`)."""
    registry.load(bundles(), actor="test")
    path = tmp_path / "again.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert SubjectService(registry, KeyHasher(SECRET)).load(path, principal=DPO) == len(lines)
    assert store.subject("R").consents == [granted("2025-01-01T00:00:00+00:00", "v2")]

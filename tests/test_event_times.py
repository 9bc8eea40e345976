"""When consent events and disclosures happened, the same on every way in (issue 13's input
checks): a date alone is its day's start in UTC in a subject file as on the command line; an event
dated in the future is refused, from a file or one at a time (the command line's test is in
test_dsar_cli), and changes nothing; a purpose's
consent validity is at least a day. On every backend."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from registry.auth.roles import Principal
from registry.bundle import BundleInvalid
from registry.errors import InvalidArgument
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService
from tests.subject_graphs import CASES

DPO = Principal.of("alice", "dpo")
SUBJECT = {"id": "P-1", "kind": "policyholder", "records": [{"system": "claims", "since": "2015-01-01"}]}


@pytest.fixture
def service(registry, tmp_path):
    registry.load([("cases.yaml", CASES)], actor="test")
    service = SubjectService(registry, KeyHasher(None))
    service.load(write(tmp_path, SUBJECT), principal=DPO)
    return service


def write(tmp_path, *subjects, name="subjects.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(s) + "\n" for s in subjects))
    return path


def events(service):
    row = service.registry.store.subject("P-1")
    return row.consents, row.disclosures


def test_a_date_alone_is_the_start_of_its_day_in_utc_in_a_file_as_one_at_a_time(service, tmp_path):
    service.load(write(tmp_path, {**SUBJECT, "consents": [
        {"purpose": "marketing", "status": "granted", "at": "2025-05-01", "expires": "2026-05-01"}],
        "disclosures": [{"flow": "fac", "at": "2025-03-01", "reference": "FAC-1"}]}), principal=DPO)
    assert events(service) == (
        [{"purpose": "marketing", "status": "granted", "at": "2025-05-01T00:00:00+00:00",
          "expires": "2026-05-01T00:00:00+00:00"}],
        [{"flow": "fac", "at": "2025-03-01T00:00:00+00:00", "reference": "FAC-1"}])
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    service.disclose(principal=DPO, subject="P-1", flow="lka-referral", at=start, reference="LKA-1")
    assert events(service)[1][-1] == {"flow": "lka-referral", "at": "2025-06-01T00:00:00+00:00", "reference": "LKA-1"}


def test_an_event_dated_in_the_future_is_refused_and_changes_nothing(service, tmp_path):
    before = events(service)
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    with pytest.raises(InvalidArgument, match=r"^at: .* is in the future: record an event once it has happened$"):
        service.disclose(principal=DPO, subject="P-1", flow="fac", at=tomorrow, reference="FAC-2")
    with pytest.raises(InvalidArgument, match=r"^at: .* is in the future"):
        service.set_consent(principal=DPO, subject="P-1", purpose="marketing", status="granted", at=tomorrow)
    later = {**SUBJECT, "disclosures": [{"flow": "fac", "at": tomorrow.isoformat()}]}
    with pytest.raises(SubjectsInvalid, match=r"subjects.jsonl:1: disclosures\[0\]\.at: .* is in the future"):
        service.load(write(tmp_path, later), principal=DPO)
    assert events(service) == before
    # A near miss: an event that has just happened, and a consent that expires in the future.
    now = datetime.now(timezone.utc) - timedelta(seconds=1)
    service.set_consent(principal=DPO, subject="P-1", purpose="marketing", status="granted", at=now, expires=tomorrow)
    service.disclose(principal=DPO, subject="P-1", flow="fac", at=now)
    assert [len(e) for e in events(service)] == [len(e) + 1 for e in before]


@pytest.mark.parametrize("validity, accepted", [
    ("P0D", False), ("PT5M", False), ("PT23H", False), ("P1D", True), ("PT36H", True), ("P24M", True)])
def test_a_consent_validity_is_at_least_a_day(registry, validity, accepted):
    purpose = f"purposes:\n  - {{id: marketing, name: Marketing, consent_validity: {validity}}}\n"
    if accepted:
        registry.load([("purposes.yaml", purpose)], actor="test")
        assert registry.entity("marketing").doc["consent_validity"] == validity
        return
    with pytest.raises(BundleInvalid, match=rf"consent_validity: '{validity}' is shorter than a day; a consent counts "
                                            r"for whole days \(e\.g\. P24M\)"):
        registry.load([("purposes.yaml", purpose)], actor="test")
    assert registry.list("purpose") == []

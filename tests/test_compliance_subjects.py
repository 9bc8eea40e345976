"""Compliance answers that count data subjects: the consent-withdrawal finding, impact and breach
counts, and the DPO's list of affected subjects. On every backend."""

import asyncio
import json
from datetime import date, datetime, timezone

import pytest

from registry.auth.roles import Principal
from registry.api.context import Context
from registry.api.schema import schema
from registry.compliance import breach_impact, findings, impact
from registry.subjects.service import SubjectService
from registry.subjects.keys import KeyHasher
from registry.service import Registry
from graph.embedded import EmbeddedStore
from graph.neo4j.store import Neo4jStore
from tests.neo4j_server import credentials
from tests.subject_graphs import bundles

MARKETING = """
systems:
  - {id: mkt, name: Marketing automation, country: DE}
flows:
  - {id: m2, name: Newsletter audience, from: crm, to: mkt, categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a}
"""
ADMIN = Principal.of("alice", "admin")


def subject(id_, system, status=None):
    consents = [{"purpose": "marketing", "status": "granted", "at": "2024-01-01T00:00:00Z"}]
    if status:
        consents.append({"purpose": "marketing", "status": status, "at": "2025-01-01T10:00:00+02:00"})
    return {"id": id_, "kind": "policyholder", "records": [{"system": system}], "consents": consents}


@pytest.fixture
def service(registry, tmp_path):
    registry.load([*bundles(), ("marketing.yaml", MARKETING)], actor="test")
    service = SubjectService(registry, KeyHasher(b"secret"))
    lines = [subject("S-1", "mkt", "withdrawn"), subject("S-2", "mkt", "granted"), subject("S-3", "mkt"),
             subject("S-4", "crm", "withdrawn"), subject("S-5", "claims")]
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    service.load(path, principal=ADMIN)
    return service


def test_consent_withdrawn_data_still_flowing_counts_subjects_in_consent_only_systems(service, registry):
    # S-1 has a record in mkt; S-4's record is in the CRM, whose contact details m2 brought to mkt while
    # S-4 consented. S-5 (claims) withdrew nothing, S-2 granted again, S-3 never withdrew.
    [found] = findings(registry, rule="consent-withdrawn-data-still-flowing")
    assert (found.severity, found.entity_kind, found.entity_id, found.subject_count) == ("info", "system", "mkt", 2)
    assert found.message == ("2 data subject(s) withdrew consent for marketing, yet system mkt, which receives data "
                             "only through consent-based flows (m2), still holds their data.")
    assert found.reference == "GDPR Art. 7(3), Art. 17(1)(b)"


def test_a_later_grant_clears_the_finding_and_times_compare_in_utc(service, registry):
    # 2025-01-01T09:00Z is after the withdrawal at 2025-01-01T10:00+02:00 (08:00Z). Asked before and
    # after: the registry's documents are unchanged, the subjects' consent is not, and the answer follows it.
    def counted():
        return [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing")]

    assert counted() == [2]
    service.set_consent(principal=ADMIN, subject="S-1", purpose="marketing", status="granted",
                        at=datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc))
    assert counted() == [1]
    service.set_consent(principal=ADMIN, subject="S-4", purpose="marketing", status="granted",
                        at=datetime(2025, 1, 1, 9, 0, tzinfo=timezone.utc))
    assert counted() == []
    assert service.store.subject("S-1").consents[1]["at"] == "2025-01-01T08:00:00+00:00"


def test_the_consent_finding_follows_a_change_of_basis_and_takes_its_place_among_the_others(service, registry):
    """Which systems rest on consent is kept with the registry's facts; the counts are read each time."""
    def consent_findings():
        return [(f.entity_id, f.subject_count) for f in findings(registry, rule="consent-withdrawn-data-still-flowing")]

    assert consent_findings() == [("mkt", 2)]
    m2 = registry.entity("m2", "flow").doc
    registry.upsert("flow", {**m2, "legal_basis": "gdpr-6-1-f"}, actor="test")
    assert consent_findings() == []
    registry.upsert("flow", m2, actor="test")
    assert consent_findings() == [("mkt", 2)]
    every = findings(registry)
    order = [(["error", "warning", "info"].index(f.severity), f.rule, f.entity_kind, f.entity_id, f.category or "",
              f.regime or "", f.message) for f in every]
    assert order == sorted(order) and len(every) > 1
    assert sum(f.rule == "consent-withdrawn-data-still-flowing" for f in every) == 1


def test_the_subjects_whose_data_the_consent_flows_brought_count_and_no_others(service, registry, tmp_path):
    def counted():
        return [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing")]

    # S-6 withdrew too, but its record is in the claims system, which feeds mkt nothing.
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(subject("S-6", "claims", "withdrawn")) + "\n")
    service.load(path, principal=ADMIN)
    assert counted() == [2]
    # A flow that carries only claimants' data brings S-4's (a policyholder's) no longer: S-1 alone is left.
    for kind in ("claimant", "policyholder"):
        registry.upsert("subject-category", {"id": kind, "name": kind.title()}, actor="test")
    m2 = registry.entity("m2", "flow").doc
    registry.upsert("flow", {**m2, "subject_categories": ["claimant"]}, actor="test")
    assert counted() == [1]


def test_subjects_whose_data_a_case_flow_carried_count_from_the_day_of_their_disclosure(service, registry, tmp_path):
    # Claims data goes to mkt case by case, on consent: only the subjects it was disclosed for, by the day asked.
    registry.load([("case.yaml", "flows:\n  - {id: mkt-case, name: Claim follow-up offers, from: claims, to: mkt, "
                                 "categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a, scope: case}")],
                  actor="test")
    lines = [{**subject("S-7", "claims", "withdrawn"), "disclosures": [{"flow": "mkt-case", "at": "2025-06-01T10:00:00Z"}]},
             subject("S-8", "claims", "withdrawn"),
             {**subject("S-9", "claims", "withdrawn"), "disclosures": [{"flow": "mkt-case", "at": "2026-06-02T23:00:00Z"}]}]
    path = tmp_path / "case.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    def counted(day):
        return [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing", as_of=day)]

    assert counted(date(2026, 6, 1)) == [2]  # S-1 and S-4
    service.load(path, principal=ADMIN)  # the counts kept with the registry's facts are read again
    assert counted(date(2026, 6, 1)) == [3]  # and S-7
    assert counted(date(2026, 6, 2)) == [4]  # and S-9, disclosed late that day


def test_the_counts_are_read_again_after_each_change_of_subject_data_and_not_after_a_dsar(
        service, registry, tmp_path, monkeypatch):
    """The counts are kept while `last_change` and `pending_loads` stay; an audited read moves the
    audit head but not `last_change`, so a portal's DSARs leave them kept; each write moves it."""
    store = registry.store
    reads = []
    for name in ("consent_groups", "consent_runs"):  # every read of the subjects' consents
        monkeypatch.setattr(store, name, lambda *a, read=getattr(store, name), **k: reads.append(1) or read(*a, **k))

    def counted():
        return [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing")]

    assert (counted(), counted(), len(reads)) == ([2], [2], 1)
    mark, head = store.last_change(), store.audit_head().seq
    service.report(principal=ADMIN, subject="S-1")
    service.erasure_plan(principal=ADMIN, subject="S-4")
    assert (store.last_change(), store.audit_head().seq) == (mark, head + 2)
    assert (counted(), len(reads)) == ([2], 1)

    service.set_consent(principal=ADMIN, subject="S-1", purpose="marketing", status="granted",
                        at=datetime(2025, 2, 1, tzinfo=timezone.utc))
    assert store.last_change() == store.audit_head().seq > mark
    assert (counted(), len(reads)) == ([1], 2)
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(subject("S-6", "mkt", "withdrawn")) + "\n")
    service.load(path, principal=ADMIN)
    assert (counted(), len(reads)) == ([2], 3)
    service.erase(principal=ADMIN, subject="S-6")
    assert (counted(), len(reads)) == ([1], 4)
    service.report(principal=ADMIN, subject="S-4")
    assert (counted(), len(reads)) == ([1], 4)


def test_consent_runs_cut_the_subjects_with_consent_events_into_runs_by_id(service, registry):
    store = registry.store
    def runs(purposes, size, every=True):
        bounds, groups = store.consent_runs(purposes, every=every, size=size)
        return bounds, [sum(n for _, n in run) for run in groups]

    # All five have marketing events; S-1 and S-4 alone a withdrawal.
    assert runs(["marketing"], 2) == (["S-2", "S-4"], [2, 2, 1])
    assert runs(["marketing"], 1, every=False) == (["S-1", "S-4"], [1, 1, 0])
    assert (runs(["marketing"], 5), runs(["marketing"], 6)) == ((["S-5"], [5, 0]), ([], [5]))
    assert runs(["claims-handling"], 1) == ([], [0])
    # A run's groups are those consent_groups gives for it.
    assert sorted(g._replace(subjects=n) for g, n in store.consent_runs(["marketing"], size=2)[1][1]) == \
        sorted(store.consent_groups(["marketing"], run=("S-2", "S-4")))

    def subjects(run):
        return sorted((g.systems, g.subjects) for g in store.consent_groups(["marketing"], run=run))

    assert subjects(("S-2", "S-4")) == [(("crm",), 1), (("mkt",), 1)]  # S-3 and S-4, not S-2
    assert subjects((None, "S-2")) == [(("mkt",), 1), (("mkt",), 1)]  # S-1 withdrew, S-2 granted again
    assert subjects(("S-4", None)) == [(("claims",), 1)]
    assert sum(n for _, n in subjects((None, None))) == 5


def test_a_change_of_some_subjects_reads_their_runs_again_and_the_counts_stay_exact(
        service, registry, tmp_path, monkeypatch):
    """Runs of one subject each: a consent, a disclosure or an erasure reads again only the runs of
    the subjects it names; a load reads every run. At each step the kept counts equal a count made
    afresh."""
    import registry.compliance.consent as rule
    import registry.compliance.tally as tally
    monkeypatch.setattr(tally, "RUN", 1)
    store = registry.store
    groups, runs, reads = store.consent_groups, store.consent_runs, []
    monkeypatch.setattr(store, "consent_groups", lambda *a, run=(None, None), **k: reads.append(run) or groups(*a, run=run, **k))
    monkeypatch.setattr(store, "consent_runs", lambda *a, **k: reads.append("all") or runs(*a, **k))
    registry.load([("case.yaml", "flows:\n  - {id: mkt-case, name: Claim follow-up offers, from: claims, to: mkt, "
                                 "categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a, scope: case}")],
                  actor="test")

    def counted():
        reads.clear()
        kept = [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing")]
        read = list(reads)
        fresh = rule.ended(store, *_afresh(registry))
        assert kept == [w + e for w, e in fresh if w + e]
        return kept, read

    assert counted() == ([2], ["all"])  # S-1 and S-4 withdrew: runs (None, S-1], (S-1, S-4], (S-4, None)
    service.set_consent(principal=ADMIN, subject="S-3", purpose="marketing", status="withdrawn",
                        at=datetime(2025, 3, 1, tzinfo=timezone.utc))
    assert counted() == ([3], [("S-1", "S-4")])  # S-3, in mkt, withdrew: its run alone
    service.report(principal=ADMIN, subject="S-2")
    assert counted() == ([3], [])  # a DSAR changes nothing
    service.disclose(principal=ADMIN, subject="S-5", flow="mkt-case", at=datetime(2025, 6, 1, tzinfo=timezone.utc))
    service.set_consent(principal=ADMIN, subject="S-5", purpose="marketing", status="withdrawn",
                        at=datetime(2025, 7, 1, tzinfo=timezone.utc))
    assert counted() == ([4], [("S-4", None)])  # S-5's claims data went to mkt, and S-5 withdrew
    service.erase(principal=ADMIN, subject="S-1")
    assert counted() == ([3], [(None, "S-4")])  # S-1 bounded a run: it and the next are read as one
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(subject("S-6", "mkt", "withdrawn")) + "\n")
    service.load(path, principal=ADMIN)
    assert counted() == ([4], [("S-4", None)])  # a new customer, after the last bound: the last run


def test_a_load_reads_again_the_runs_its_ids_fall_in_and_every_run_once_its_range_is_gone(
        service, registry, tmp_path, monkeypatch):
    """A completed load keeps the least and the greatest id it wrote (`graph.subjects.LOADED`):
    the runs between them are read again, the others kept. An erasure of either subject drops the
    range, and then a later question reads every run."""
    import registry.compliance.tally as tally
    from graph.subjects import loaded
    monkeypatch.setattr(tally, "RUN", 1)
    store = registry.store
    reads = spied(monkeypatch, store)

    def load(*lines):
        path = tmp_path / "load.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        service.load(path, principal=ADMIN)

    def counted():
        reads.clear()
        kept = counted_in(registry)
        read = list(reads)
        places, fresh = rule_ended(registry)
        assert kept == [(place.system, w + e) for place, (w, e) in zip(places, fresh) if w + e]
        return kept, read

    assert counted() == ([("mkt", 2)], ["all"])  # bounds S-1 and S-4
    load(subject("S-2a", "mkt", "withdrawn"))  # between S-2 and S-3
    assert counted() == ([("mkt", 3)], [("S-1", "S-4")])
    entry = store.audit(tally.AuditQuery(after=0, limit=1000, newest_first=True))[0]
    assert json.loads(store.derived(loaded(entry.seq))) == {"first": "S-2a", "last": "S-2a"}
    load(subject("S-9", "claims"), subject("S-0", "mkt", "withdrawn"))  # out of order: the least and the greatest
    assert json.loads(store.derived(loaded(entry.seq + 1))) == {"first": "S-0", "last": "S-9"}
    assert counted() == ([("mkt", 4)], ["all"])  # over every run: one pass
    load()  # an empty file changes nothing
    assert counted() == ([("mkt", 4)], [])
    load(subject("S-5", "mkt", "withdrawn"))
    service.erase(principal=ADMIN, subject="S-5")  # the load's range named S-5: gone with it
    assert counted() == ([("mkt", 4)], ["all"])


def test_a_change_of_the_registry_that_leaves_who_counts_where_keeps_the_counts_and_one_that_does_not_reads_again(
        service, registry, monkeypatch):
    """New facts start from the counts the store last kept while their tally's signature is the
    same; every answer equals a count made afresh. A day, a new place on consent and a
    `consent_validity` each change the signature, so the subjects are read again."""
    store = registry.store
    reads = []
    for name in ("consent_groups", "consent_runs"):
        monkeypatch.setattr(store, name, lambda *a, read=getattr(store, name), **k: reads.append(1) or read(*a, **k))

    def counted(on=date(2026, 6, 1)):
        return [(f.entity_id, f.subject_count)
                for f in findings(registry, as_of=on, rule="consent-withdrawn-data-still-flowing")]

    assert (counted(), len(reads)) == ([("mkt", 2)], 1)
    registry.load([("elsewhere.yaml", """
systems:
  - {id: mkt, name: Marketing cloud, country: DE}
  - {id: dwh, name: Warehouse, country: DE}
parties:
  - {id: printco, name: Print Co, kind: processor, country: DE, role: processor}
flows:
  - {id: c2, name: Claims to the warehouse, from: claims, to: dwh, categories: [contact], purpose: claims-handling, legal_basis: gdpr-6-1-b}
""")], actor="test")
    assert (counted(), len(reads)) == ([("mkt", 2)], 1)  # a rename, a party, a flow on contract elsewhere
    assert (counted(date(2026, 6, 2)), len(reads)) == ([("mkt", 2)], 2)  # another day
    registry.load([("loyalty.yaml", """
systems:
  - {id: loyalty, name: Loyalty programme, country: DE}
flows:
  - {id: m3, name: Loyalty audience, from: crm, to: loyalty, categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a}
""")], actor="test")
    assert (counted(), len(reads)) == ([("loyalty", 1), ("mkt", 2)], 3)  # S-4, in the CRM, withdrew
    registry.load([("validity.yaml", "purposes:\n  - {id: marketing, name: Marketing, consent_validity: P12M}\n")],
                  actor="test")
    # S-2's grant of 2025-01-01 and S-3's of 2024 ran out; S-5 (claims) is in neither place.
    assert (counted(), len(reads)) == ([("loyalty", 1), ("mkt", 4)], 4)
    fresh = rule_ended(registry)
    assert counted() == [(place.system, w + e) for place, (w, e) in zip(fresh[0], fresh[1]) if w + e]
    assert len(reads) == 5  # the fresh count above; the kept one read nothing


@pytest.fixture
def other(registry, request):
    """The registry through a second store object on the same store: another process (the command
    line, a restarted server or another worker)."""
    if isinstance(registry.store, EmbeddedStore):
        store = EmbeddedStore(registry.store.path)
    else:
        store = Neo4jStore.from_uri(request.getfixturevalue("neo4j_uri"), **credentials())
    yield Registry(store)
    store.close()


def spied(monkeypatch, store) -> list:
    """The reads of the subjects' consents `store` makes from now on: 'all', or a run's bounds."""
    reads = []
    groups, runs = store.consent_groups, store.consent_runs
    monkeypatch.setattr(store, "consent_groups", lambda *a, run=(None, None), **k: reads.append(run) or groups(*a, run=run, **k))
    monkeypatch.setattr(store, "consent_runs", lambda *a, **k: reads.append("all") or runs(*a, **k))
    return reads


def restarted(monkeypatch) -> None:
    """As in a new process: nothing of the consent rule's kept in memory, facts or counts."""
    import registry.compliance.tally as tally
    import registry.compliance.facts as facts
    monkeypatch.setattr(tally, "_LAST", tally.weakref.WeakKeyDictionary())
    monkeypatch.setattr(facts, "_KEPT", facts.OrderedDict())


def counted_in(registry, on=date(2026, 6, 1)):
    return [(f.entity_id, f.subject_count)
            for f in findings(registry, as_of=on, rule="consent-withdrawn-data-still-flowing")]


def test_a_load_killed_half_way_counts_what_it_applied_though_another_load_cleared_its_pending_mark(
        service, registry, tmp_path, monkeypatch):
    """The range of a load of several batches is kept when it starts too: a load killed after its
    first batch, then another file loaded (which on the embedded store clears the pending mark),
    leaves the first one's applied subjects counted."""
    import graph.embedded.subject_load
    import graph.neo4j.subject_load
    import registry.compliance.tally as tally
    from graph.store import StoreError
    monkeypatch.setattr(tally, "RUN", 1)
    for module in (graph.embedded.subject_load, graph.neo4j.subject_load):
        calls, apply = [], module._apply_batch

        def dying(*args, calls=calls, apply=apply):
            calls.append(1)
            if len(calls) == 2:
                raise StoreError("killed")
            return apply(*args)

        monkeypatch.setattr(module, "SUBJECT_BATCH", 2)
        monkeypatch.setattr(module, "_apply_batch", dying)
    assert counted_in(registry) == [("mkt", 2)]  # S-1 and S-4
    first = tmp_path / "first.jsonl"
    first.write_text("".join(json.dumps(subject(id_, "mkt", "withdrawn")) + "\n" for id_ in ("S-2", "S-3", "S-6", "S-7")))
    with pytest.raises(StoreError, match="killed"):
        service.load(first, principal=ADMIN)
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps(subject("S-9", "mkt")) + "\n")
    service.load(second, principal=ADMIN)  # on the embedded store, this clears the pending mark
    places, fresh = rule_ended(registry)
    assert counted_in(registry) == [(place.system, w + e) for place, (w, e) in zip(places, fresh) if w + e] == \
        [("mkt", 4)]  # S-2 and S-3 withdrew in the first file's applied batch


def test_the_ranges_of_the_last_loads_are_kept_and_older_ones_forgotten(service, registry, tmp_path, monkeypatch):
    import graph.embedded.subject_load
    import graph.neo4j.subject_load
    from graph.subjects import loaded
    for module in (graph.embedded.subject_load, graph.neo4j.subject_load):
        monkeypatch.setattr(module, "LOADS_KEPT", 2)
    store, seqs = registry.store, []
    for number in range(3):
        path = tmp_path / f"load-{number}.jsonl"
        path.write_text(json.dumps(subject(f"T-{number}", "mkt")) + "\n")
        service.load(path, principal=ADMIN)
        seqs.append(store.audit_head().seq)
    assert [store.derived(loaded(seq)) and json.loads(store.derived(loaded(seq))) for seq in seqs] == \
        [None, {"first": "T-1", "last": "T-1"}, {"first": "T-2", "last": "T-2"}]


def test_another_process_starts_from_the_counts_kept_in_the_store_and_reads_only_what_changed_since(
        service, registry, other, monkeypatch):
    """The counts go into the store with what they were made from; a new process with the same
    places and day takes them, reading again only the runs of subjects changed since (through
    any process), and keeps its own there in turn. Every answer equals a count made afresh."""
    import registry.compliance.tally as tally
    monkeypatch.setattr(tally, "RUN", 1)
    first, second = spied(monkeypatch, registry.store), spied(monkeypatch, other.store)
    assert counted_in(registry) == [("mkt", 2)] and first == ["all"]
    assert counted_in(other) == [("mkt", 2)] and second == []  # nothing read
    service.set_consent(principal=ADMIN, subject="S-3", purpose="marketing", status="withdrawn",
                        at=datetime(2025, 3, 1, tzinfo=timezone.utc))
    service.report(principal=ADMIN, subject="S-2")  # reads change nothing and are passed over
    assert counted_in(other) == [("mkt", 3)] and second == [("S-1", "S-4")]  # S-3's run alone
    restarted(monkeypatch)  # the first store's process
    first.clear()
    assert counted_in(registry) == [("mkt", 3)] and first == []  # what the other process kept
    assert counted_in(other, date(2026, 6, 2)) == [("mkt", 3)] and second[-1] == "all"  # another day
    places, fresh = rule_ended(registry)
    assert [(place.system, w + e) for place, (w, e) in zip(places, fresh) if w + e] == [("mkt", 3)]


def test_counts_kept_for_other_places_or_not_in_the_format_are_made_again(
        service, registry, other, tmp_path, monkeypatch):
    import registry.compliance.consent as rule
    reads = spied(monkeypatch, other.store)
    assert counted_in(registry) == [("mkt", 2)]
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps(subject("S-6", "mkt", "withdrawn")) + "\n")
    service.load(path, principal=ADMIN)
    assert counted_in(other) == [("mkt", 3)] and reads == ["all"]  # the one run, where S-6 falls: one pass
    for data in (b"not json", b'{"format": 0}', registry.store.derived(rule.COUNTS).replace(b'"format":1', b'"format":2')):
        registry.store.keep_derived(rule.COUNTS, data)
        restarted(monkeypatch)
        reads.clear()
        assert counted_in(other) == [("mkt", 3)] and reads == ["all"]
    registry.load([("loyalty.yaml", """
systems:
  - {id: loyalty, name: Loyalty programme, country: DE}
flows:
  - {id: m3, name: Loyalty audience, from: crm, to: loyalty, categories: [contact], purpose: marketing, legal_basis: gdpr-6-1-a}
""")], actor="test")
    restarted(monkeypatch)
    reads.clear()
    assert counted_in(other) == [("loyalty", 1), ("mkt", 3)] and reads == ["all"]  # another place


def test_derived_data_is_kept_by_name_apart_from_the_registry_and_the_audit_log(store):
    registry = Registry(store)
    before = store.version(), store.audit_head(), store.last_change(), sorted(d["id"] for d in registry.list("system"))
    assert store.derived("counts") is None
    store.keep_derived("counts", b"\x00{1}")
    store.keep_derived("other", b"2")
    store.keep_derived("counts", b"\x00{3}")
    assert (store.derived("counts"), store.derived("other")) == (b"\x00{3}", b"2")
    assert (store.version(), store.audit_head(), store.last_change(),
            sorted(d["id"] for d in registry.list("system"))) == before


def test_the_erasure_of_a_subject_that_derived_data_names_drops_it(service, registry):
    store = registry.store
    store.keep_derived("a", b"1", subjects=["S-1", "S-4"])
    store.keep_derived("b", b"2", subjects=["S-2"])
    store.keep_derived("c", b"3")
    service.erase(principal=ADMIN, subject="S-4")
    assert (store.derived("a"), store.derived("b"), store.derived("c")) == (None, b"2", b"3")
    store.keep_derived("b", b"4", subjects=["S-3"])  # what it named before no longer counts
    service.erase(principal=ADMIN, subject="S-2")
    assert store.derived("b") == b"4"
    service.erase(principal=ADMIN, subject="S-3")
    assert (store.derived("b"), store.derived("c")) == (None, b"3")


def test_an_erased_subject_that_bounds_a_run_is_kept_nowhere_and_the_counts_stay_exact(
        service, registry, other, monkeypatch):
    import registry.compliance.consent as rule
    import registry.compliance.tally as tally
    monkeypatch.setattr(tally, "RUN", 1)
    reads = spied(monkeypatch, registry.store)
    assert counted_in(registry) == [("mkt", 2)] and reads == ["all"]  # bounds S-1 and S-4
    assert b"S-1" in registry.store.derived(rule.COUNTS)
    service.erase(principal=ADMIN, subject="S-1")
    assert registry.store.derived(rule.COUNTS) is None
    reads.clear()
    assert counted_in(registry) == [("mkt", 1)] and reads == [(None, "S-4")]  # two runs read as one
    assert b"S-1" not in registry.store.derived(rule.COUNTS)
    restarted(monkeypatch)
    assert counted_in(other) == [("mkt", 1)]
    places, fresh = rule_ended(registry)
    assert [(place.system, w + e) for place, (w, e) in zip(places, fresh) if w + e] == [("mkt", 1)]


def test_a_dry_run_over_the_store_counts_afresh_after_the_counts_kept_there_went_stale(service, registry):
    """A scratch store (`dsa-registry check FILE --store`) shares the base's subjects and
    `last_change`, not its audit log, so it cannot tell what changed since the base kept its counts."""
    from graph.scratch import ScratchStore

    assert counted_in(registry) == [("mkt", 2)]
    service.set_consent(principal=ADMIN, subject="S-3", purpose="marketing", status="withdrawn",
                        at=datetime(2025, 3, 1, tzinfo=timezone.utc))
    assert counted_in(Registry(ScratchStore(registry.store))) == [("mkt", 3)]
    assert counted_in(registry) == [("mkt", 3)]


def test_counts_naming_a_subject_erased_while_they_were_made_are_not_kept(service, registry, other, monkeypatch):
    """An erasure through another process between the reads of a count and its keeping: the
    store keeps nothing that names the erased subject, and the answer given is the count as read."""
    import registry.compliance.consent as rule
    import registry.compliance.tally as tally
    monkeypatch.setattr(tally, "RUN", 1)
    store, runs = registry.store, registry.store.consent_runs
    erasing = SubjectService(other, KeyHasher(b"secret"))

    def read_then_erase(*args, **kwargs):
        found = runs(*args, **kwargs)
        erasing.erase(principal=ADMIN, subject="S-1")  # a bound of the runs just read
        return found

    monkeypatch.setattr(store, "consent_runs", read_then_erase)
    assert counted_in(registry) == [("mkt", 2)]  # as read, before the erasure
    assert store.derived(rule.COUNTS) is None
    store.keep_derived("other", b"1", subjects=["S-2", "S-1"])  # any derived data
    assert store.derived("other") is None
    monkeypatch.setattr(store, "consent_runs", runs)
    assert counted_in(registry) == [("mkt", 1)]  # the erasure moved the mark: counted again
    assert b"S-1" not in store.derived(rule.COUNTS)


def rule_ended(registry):
    """The places of the consent rule on 2026-06-01's facts and their counts made afresh."""
    from registry.compliance.consent import ended, resting_on_consent
    from registry.compliance.facts import Facts
    from registry.compliance.settings import Settings
    from registry.subjects.consent import Rules
    facts = Facts.of(registry, date(2026, 6, 1), Settings.packaged().countries)
    places = resting_on_consent(facts)
    return places, ended(registry.store, Rules(facts.purpose_tree, facts.purposes), places, facts.as_of)


def _afresh(registry):
    """The arguments of `ended` for the consent rule on today's facts, made afresh."""
    from registry.compliance.consent import resting_on_consent
    from graph.store import today
    from registry.compliance.facts import Facts
    from registry.compliance.settings import Settings
    from registry.subjects.consent import Rules
    facts = Facts.of(registry, today(), Settings.packaged().countries)
    return Rules(facts.purpose_tree, facts.purposes), resting_on_consent(facts), facts.as_of


def test_a_declaration_for_some_kinds_of_subject_decides_for_those_subjects_only(service, registry, tmp_path):
    """mkt declares claimants' contact details on legitimate interests: for claimants it holds them
    on that, not only on consent, so a claimant who withdrew is not counted; policyholders still are,
    as their DSARs say. Before, the declaration counted for everyone and the finding went."""
    for kind in ("claimant", "policyholder"):
        registry.upsert("subject-category", {"id": kind, "name": kind.title()}, actor="test")
    registry.upsert("system", {"id": "mkt", "name": "Marketing automation", "country": "DE", "holds": [
        {"category": "contact", "purposes": ["marketing"], "legal_basis": "gdpr-6-1-f",
         "subject_categories": ["claimant"]}]}, actor="test")
    path = tmp_path / "claimant.jsonl"
    path.write_text(json.dumps({**subject("S-10", "mkt", "withdrawn"), "kind": "claimant"}) + "\n")
    service.load(path, principal=ADMIN)
    assert [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing")] == [2]

    def lacking(id_):
        return [h.consent_lacking for h in service.report(principal=ADMIN, subject=id_).holdings if h.system == "mkt"]

    assert (lacking("S-4"), lacking("S-10")) == (["withdrawn"], [None])  # S-4's came from the CRM on m2


def test_the_consents_to_purposes_only_a_kinds_declaration_names_are_read_too(service, registry, tmp_path):
    """mkt declares claimants' contact details on consent for claims handling as well: a claimant
    whose only consent, to that purpose, was withdrawn is counted beside the two policyholders."""
    for kind in ("claimant", "policyholder"):
        registry.upsert("subject-category", {"id": kind, "name": kind.title()}, actor="test")
    registry.upsert("system", {"id": "mkt", "name": "Marketing automation", "country": "DE", "holds": [
        {"category": "contact", "purposes": ["claims-handling"], "legal_basis": "gdpr-6-1-a",
         "subject_categories": ["claimant"]}]}, actor="test")
    path = tmp_path / "claimant.jsonl"
    path.write_text(json.dumps({"id": "S-11", "kind": "claimant", "records": [{"system": "mkt"}], "consents": [
        {"purpose": "claims-handling", "status": "granted", "at": "2024-01-01T00:00:00Z"},
        {"purpose": "claims-handling", "status": "withdrawn", "at": "2025-01-01T00:00:00Z"}]}) + "\n")
    service.load(path, principal=ADMIN)
    assert [f.subject_count for f in findings(registry, rule="consent-withdrawn-data-still-flowing")] == [3]


def test_a_system_that_also_declares_data_on_another_basis_is_not_consent_only(service, registry):
    assert len(findings(registry, rule="consent-withdrawn-data-still-flowing")) == 1  # mkt's
    registry.upsert("system", {"id": "mkt", "name": "Marketing automation", "country": "DE",
                               "holds": [{"category": "contact", "purposes": ["marketing"], "legal_basis": "gdpr-6-1-f"}]},
                    actor="test")
    assert findings(registry, rule="consent-withdrawn-data-still-flowing") == []


def test_impact_and_breach_count_subjects_and_the_dpo_sees_who(service, registry):
    affected = impact(registry, system="mkt")  # mkt's own subjects and those of crm, which feeds it
    assert (affected.subject_systems, affected.subject_count) == (["crm", "mkt"], 4)
    breach = breach_impact(registry, systems=["crm", "mkt"], detected_at=datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert breach.subject_count == 4
    query = '{ breachImpact(systems: ["crm", "mkt"], detectedAt: "2026-11-25T09:00:00+01:00") { subjectCount subjects } }'

    def run(roles):
        context = Context(registry=registry, subjects=service, principal=Principal.of("carol", roles))
        return asyncio.run(schema.execute(query, context_value=context))

    result = run("dpo")
    assert result.errors is None
    assert result.data["breachImpact"] == {"subjectCount": 4, "subjects": ["S-1", "S-2", "S-3", "S-4"]}
    denied = run("viewer")
    assert denied.data is None or denied.data["breachImpact"] is None
    assert denied.errors[0].extensions["code"] == "FORBIDDEN"
    [read] = [e for e in registry.audit(limit=1000) if e.action == "read"]
    assert (read.actor, read.after) == ("carol", {"what": "subjects concerned (crm, mkt): 4"})


# --- consent that ran out, and the purpose hierarchy (as DSARs decide: registry.subjects.consent) ----------

LAPSING = """
categories:
  - {id: contact, name: Contact details}
purposes:
  - {id: marketing, name: Marketing}
  - {id: marketing.newsletter, name: Newsletter, parent: marketing}
  - {id: marketing.offers, name: Personalised offers, parent: marketing, consent_validity: P24M}
  - {id: wellness, name: Wellness programme}
systems:
  - id: crm
    name: CRM
    country: DE
    holds: [{category: contact, purposes: [marketing], legal_basis: gdpr-6-1-b}]
  - {id: mailer, name: Newsletter platform, country: DE}
  - {id: offers, name: Offers engine, country: DE}
flows:
  - {id: news, name: Newsletter, from: crm, to: mailer, categories: [contact], purpose: marketing.newsletter, legal_basis: gdpr-6-1-a}
  - {id: offer, name: Offers, from: crm, to: offers, categories: [contact], purpose: marketing.offers, legal_basis: gdpr-6-1-a}
"""


def consented(id_, system, *events):
    return {"id": id_, "kind": "policyholder", "records": [{"system": system}],
            "consents": [{"purpose": purpose, "status": status, "at": at, **({"expires": expires} if expires else {})}
                         for purpose, status, at, expires in events]}


LAPSING_SUBJECTS = [
    # mailer (marketing.newsletter, no validity), evaluated on 2026-06-01
    consented("N-expired", "mailer", ("marketing.newsletter", "granted", "2025-01-01T00:00:00Z", "2026-05-31T00:00:00Z")),
    consented("N-valid", "mailer", ("marketing.newsletter", "granted", "2025-01-01T00:00:00Z", "2026-06-02T00:00:00Z")),
    consented("N-withdrawn", "mailer", ("marketing.newsletter", "granted", "2024-01-01T00:00:00Z", None),
              ("marketing.newsletter", "withdrawn", "2025-01-01T00:00:00Z", None)),
    # withdrawing marketing withdraws its newsletter too; a later consent to marketing covers the newsletter again
    consented("N-parent-withdrawn", "mailer", ("marketing.newsletter", "granted", "2024-01-01T00:00:00Z", None),
              ("marketing", "withdrawn", "2025-01-01T00:00:00Z", None)),
    consented("N-parent-granted", "mailer", ("marketing.newsletter", "withdrawn", "2024-06-01T00:00:00Z", None),
              ("marketing", "granted", "2025-01-01T00:00:00Z", None)),
    consented("N-unrelated", "mailer", ("marketing.newsletter", "granted", "2024-01-01T00:00:00Z", None),
              ("wellness", "withdrawn", "2025-01-01T00:00:00Z", None)),
    consented("N-later", "mailer", ("marketing.newsletter", "granted", "2024-01-01T00:00:00Z", None),
              ("marketing.newsletter", "withdrawn", "2026-07-01T00:00:00Z", None)),
    # offers (marketing.offers, consent valid P24M from when it was given)
    consented("O-old", "offers", ("marketing.offers", "granted", "2024-05-01T00:00:00Z", None)),
    consented("O-recent", "offers", ("marketing.offers", "granted", "2024-06-15T00:00:00Z", None)),
    consented("O-parent", "offers", ("marketing", "granted", "2024-01-01T00:00:00Z", None)),  # marketing sets no validity
]
LAPSED = "consent-withdrawn-data-still-flowing"


@pytest.fixture
def lapsing(registry, tmp_path):
    registry.load([("lapsing.yaml", LAPSING)], actor="test")
    path = tmp_path / "subjects.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LAPSING_SUBJECTS))
    SubjectService(registry, KeyHasher(b"secret")).load(path, principal=ADMIN)
    return registry


def test_expired_and_parent_withdrawn_consents_count_as_not_given(lapsing):
    found = findings(lapsing, rule=LAPSED, as_of=date(2026, 6, 1))
    assert [(f.entity_id, f.subject_count, f.message) for f in found] == [
        ("mailer", 3, "2 data subject(s) withdrew consent for marketing.newsletter and the consent of 1 data "
                      "subject(s) for marketing.newsletter expired, yet system mailer, which receives data only "
                      "through consent-based flows (news), still holds their data."),
        ("offers", 1, "The consent of 1 data subject(s) for marketing.offers expired, yet system offers, which "
                      "receives data only through consent-based flows (offer), still holds their data.")]


@pytest.mark.parametrize("day, expected", [
    # the day before N-expired's `expires` it still counts; O-old's P24M ran out on 2026-05-01
    (date(2026, 5, 30), [("mailer", 2), ("offers", 1)]),
    (date(2026, 4, 30), [("mailer", 2)]),
    # N-later's withdrawal of 2026-07-01 counts from that day on; N-valid's consent ran out on 2026-06-02, and
    # O-recent's P24M on 2026-06-15
    (date(2026, 7, 1), [("mailer", 5), ("offers", 2)]),
])
def test_what_has_ended_depends_on_the_evaluation_day(lapsing, day, expected):
    assert [(f.entity_id, f.subject_count) for f in findings(lapsing, rule=LAPSED, as_of=day)] == expected


@pytest.mark.parametrize("carried, expected", [
    # N-unrelated withdrew the wellness consent but kept the newsletter's: the contact details stay on that one.
    ("[contact]", [("mailer", 3), ("offers", 1)]),
    # What only the wellness flow brings lacks a consent now: N-unrelated counts (as its DSAR says of that holding).
    ("[habits]", [("mailer", 4), ("offers", 1)]),
])
def test_a_subject_counts_where_no_consent_stands_for_some_data_not_where_another_consent_keeps_it(
        lapsing, carried, expected):
    lapsing.load([("wellness.yaml", f"""
categories:
  - {{id: habits, name: Lifestyle habits}}
flows:
  - {{id: well, name: Wellness tips, from: crm, to: mailer, categories: {carried}, purpose: wellness, legal_basis: gdpr-6-1-a}}
""")], actor="test")
    assert [(f.entity_id, f.subject_count) for f in findings(lapsing, rule=LAPSED, as_of=date(2026, 6, 1))] == expected


def _grouped(store, purposes, every=True):
    return sorted((g.kind, g.systems, g.disclosed, [(e["purpose"], e["status"], e["at"][:10], e.get("expires", "")[:10])
                                                     for e in g.events], g.subjects)
                  for g in store.consent_groups(purposes, every=every))


def test_consent_groups_give_alike_subjects_once_with_the_events_that_decide(lapsing, tmp_path):
    store = lapsing.store
    news = ["marketing", "marketing.newsletter"]
    n = "marketing.newsletter"
    assert _grouped(store, news) == sorted([
        ("policyholder", ("mailer",), (), [(n, "granted", "2024-01-01", ""), (n, "withdrawn", "2025-01-01", "")], 1),
        ("policyholder", ("mailer",), (), [(n, "granted", "2024-01-01", ""), (n, "withdrawn", "2026-07-01", "")], 1),
        # N-unrelated: the wellness event is not asked for
        ("policyholder", ("mailer",), (), [(n, "granted", "2024-01-01", "")], 1),
        ("policyholder", ("mailer",), (), [(n, "granted", "2024-01-01", ""), ("marketing", "withdrawn", "2025-01-01", "")], 1),
        ("policyholder", ("mailer",), (), [(n, "granted", "2025-01-01", "2026-05-31")], 1),
        ("policyholder", ("mailer",), (), [(n, "granted", "2025-01-01", "2026-06-02")], 1),
        ("policyholder", ("mailer",), (), [(n, "withdrawn", "2024-06-01", ""), ("marketing", "granted", "2025-01-01", "")], 1),
        ("policyholder", ("offers",), (), [("marketing", "granted", "2024-01-01", "")], 1)])  # O-parent, wherever it is
    # Only those whose consent can end without a validity: a withdrawal or an `expires` among the events.
    assert [g[-2] for g in _grouped(store, news, every=False)] == sorted([
        [(n, "granted", "2024-01-01", ""), (n, "withdrawn", "2025-01-01", "")],
        [(n, "granted", "2024-01-01", ""), (n, "withdrawn", "2026-07-01", "")],
        [(n, "granted", "2024-01-01", ""), ("marketing", "withdrawn", "2025-01-01", "")],
        [(n, "granted", "2025-01-01", "2026-05-31")], [(n, "granted", "2025-01-01", "2026-06-02")],
        [(n, "withdrawn", "2024-06-01", ""), ("marketing", "granted", "2025-01-01", "")]])
    assert _grouped(store, ["no-such-purpose"]) == []
    # Alike subjects are one group, counted; another kind, or one more system, is another group.
    event = ("wellness", "withdrawn", "2025-03-01T00:00:00Z", None)
    alike = [consented(f"W-{i}", "offers", event) for i in range(3)]
    alike += [{**consented("W-3", "offers", event), "kind": "prospect"},
              {**consented("W-4", "offers", event), "records": [{"system": "offers"}, {"system": "crm"}]}]
    path = tmp_path / "alike.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in alike))
    SubjectService(lapsing, KeyHasher(b"secret")).load(path, principal=ADMIN)
    wellness = [("wellness", "withdrawn", "2025-03-01", "")]
    assert _grouped(store, ["wellness"]) == sorted([
        ("policyholder", ("crm", "offers"), (), wellness, 1),
        ("policyholder", ("mailer",), (), [("wellness", "withdrawn", "2025-01-01", "")], 1),  # N-unrelated
        ("policyholder", ("offers",), (), wellness, 3), ("prospect", ("offers",), (), wellness, 1)])

"""`Spread.sources`, the one walk that says which of a subject's records the data each holder
holds came from (the DSAR's retention dates), gives what one walk per record gives: on random
landscapes (hypothesis) with category hierarchies, cycles, case flows with and without a
disclosure, consent that stands, was withdrawn or never given, records collected after the day
and records an erasure restricted; and exactly on a known graph, where a recorded disclosure from
a system only one record reaches dates the data by that record alone."""

from collections import defaultdict
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.store import Stored
from graph.subjects import SubjectRow
from registry.categories import CategoryTree, Tree
from registry.legal_bases import builtin_bases
from registry.subjects.consent import Rules
from registry.subjects.dsar import compute
from registry.subjects.spread import Reach, Spread

ON = date(2026, 6, 1)
CATEGORIES = [{"id": "contact"}, {"id": "contact.email", "parent": "contact"},
              {"id": "contact.phone", "parent": "contact"}, {"id": "claims"},
              {"id": "health", "special": True}]
SYSTEMS = [f"s{i}" for i in range(6)]
PARTIES = ["p0", "p1"]


@st.composite
def landscapes(draw):
    """(entities, flows, subject, disclosed flow ids) over six systems and two parties."""
    nodes = SYSTEMS + PARTIES
    flows = []
    for i in range(draw(st.integers(1, 14))):
        flows.append({
            "id": f"f{i:02d}", "from": draw(st.sampled_from(nodes)), "to": draw(st.sampled_from(nodes)),
            "categories": draw(st.lists(st.sampled_from([c["id"] for c in CATEGORIES]), min_size=1, max_size=2,
                                        unique=True)),
            "purpose": draw(st.sampled_from(["service", "marketing"])),
            "legal_basis": draw(st.sampled_from(["gdpr-6-1-b", "gdpr-6-1-a"])),
            "scope": draw(st.sampled_from(["all", "all", "case"])),
            **({"since": draw(st.sampled_from(["2020-01-01", "2025-09-01"]))} if draw(st.booleans()) else {})})
    records = []
    for _ in range(draw(st.integers(1, 3))):
        record = {"system": draw(st.sampled_from(SYSTEMS)),
                  "categories": draw(st.lists(st.sampled_from([c["id"] for c in CATEGORIES]), min_size=1,
                                              max_size=2, unique=True)),
                  "since": draw(st.sampled_from(["2012-01-01", "2019-05-01", "2026-09-01"]))}
        if draw(st.booleans()):
            record["until"] = "2024-12-31"
        if draw(st.integers(0, 4)) == 0:
            record["restricted"] = draw(st.sampled_from(["2026-01-15", "2026-12-01"]))
        records.append(record)
    consents = draw(st.sampled_from([
        [], [{"purpose": "marketing", "status": "granted", "at": "2024-01-01T00:00:00+00:00"}],
        [{"purpose": "marketing", "status": "granted", "at": "2024-01-01T00:00:00+00:00"},
         {"purpose": "marketing", "status": "withdrawn", "at": "2025-06-01T00:00:00+00:00"}]]))
    case = [f["id"] for f in flows if f["scope"] == "case"]
    disclosed = draw(st.lists(st.sampled_from(case), unique=True)) if case else []
    entities = {**{s: Stored("system", {"id": s}) for s in SYSTEMS},
                **{p: Stored("party", {"id": p}) for p in PARTIES},
                **{f["id"]: Stored("flow", f) for f in flows}}
    return entities, flows, SubjectRow("S", "policyholder", records, consents), disclosed


def spread_of(entities, flows, subject, disclosed) -> Spread:
    purposes = [{"id": "service"}, {"id": "marketing"}]
    return Spread(subject, flows, entities, CategoryTree(CATEGORIES), Rules(Tree(purposes, []), {}), ON,
                  {f: [{"flow": f, "at": "2026-01-01T00:00:00+00:00"}] for f in disclosed}, {}, builtin_bases(), {})


def from_no_record(spread: Spread, filled: list[str]) -> set[tuple[str, str]]:
    """Where what the disclosures on `filled` carried from no record goes, walked alone as
    `Spread._fill_gaps` starts it."""
    reach, gaps = Reach({}, defaultdict(dict), defaultdict(set), set()), {}
    for flow_id in filled:
        flow = spread.entities[flow_id].doc
        for category in flow["categories"]:
            spread._carry(reach, gaps, spread._move(flow, spread.terms_of(flow), category), (), None)
    reach.arrived.update(gaps)
    spread._walk(reach, gaps, open_cases=False)
    return set(reach.arrived)


@settings(max_examples=400, deadline=None)
@given(landscapes())
def test_one_walk_gives_what_one_walk_per_record_gives(landscape):
    spread = spread_of(*landscape)
    records = spread.subject.records
    expected: dict[tuple[str, str], int] = {}
    for index, record in enumerate(records):
        for key in spread.run(open_cases=False, records=[record], gaps=False).arrived:
            expected[key] = expected.get(key, 0) | 1 << index
    assert dict(spread.sources(records)) == expected
    filled = spread.reach(open_cases=False).filled
    for key in from_no_record(spread, filled):
        expected[key] = expected.get(key, 0) | 1 << len(records)
    assert dict(spread.sources(records, filled)) == expected


LANDSCAPE = {
    "crm": Stored("system", {"id": "crm"}),
    "claims": Stored("system", {"id": "claims"}),
    "siu": Stored("system", {"id": "siu"}),
    "crm-to-siu": Stored("flow", {"id": "crm-to-siu", "from": "crm", "to": "siu", "categories": ["contact"],
                                  "purpose": "service", "legal_basis": "gdpr-6-1-b", "scope": "case"}),
    "claims-to-siu": Stored("flow", {"id": "claims-to-siu", "from": "claims", "to": "siu", "categories": ["claims"],
                                     "purpose": "service", "legal_basis": "gdpr-6-1-f", "scope": "case"}),
}
POLICY = {"system": "crm", "categories": ["contact"], "since": "2012-01-01"}
CLAIM = {"system": "claims", "categories": ["claims"], "since": "2019-05-01", "until": "2023-03-31"}


def siu_dates(records, disclosed):
    flows = [LANDSCAPE[f].doc for f in ("crm-to-siu", "claims-to-siu")]
    subject = SubjectRow("S", "policyholder", records, [],
                         disclosures=[{"flow": f, "at": "2025-02-01T00:00:00+00:00"} for f in disclosed])
    report = compute(subject, flows, LANDSCAPE, CategoryTree(CATEGORIES), as_of=ON)
    return {(h.category, h.collected, h.ended) for h in report.holdings if h.system == "siu"}


def test_a_disclosure_from_the_claims_system_dates_the_fraud_file_by_the_claim_alone():
    # The policy (no end) never reached the claims system: the fraud unit's claims data came from
    # the ended claim only, so its retention can run from the claim's end.
    assert siu_dates([POLICY, CLAIM], ["claims-to-siu"]) == {("claims", date(2019, 5, 1), date(2023, 3, 31))}


def test_data_from_both_records_is_dated_by_each_its_own():
    assert siu_dates([POLICY, CLAIM], ["claims-to-siu", "crm-to-siu"]) == {
        ("claims", date(2019, 5, 1), date(2023, 3, 31)), ("contact", date(2012, 1, 1), None)}


def test_a_disclosure_from_a_system_no_record_reached_has_no_dates():
    # Near miss: the claims system holds none of the subject's data, yet a disclosure on its flow
    # is recorded: what it carried came from no record, so nothing dates it.
    assert siu_dates([POLICY, {**CLAIM, "system": "crm", "categories": ["contact"]}], ["claims-to-siu"]) == {
        ("claims", None, None)}


ARCHIVE = {
    **LANDSCAPE, "archive": Stored("system", {"id": "archive"}),
    "archive-to-siu": Stored("flow", {"id": "archive-to-siu", "from": "archive", "to": "siu", "categories": ["claims"],
                                      "purpose": "service", "legal_basis": "gdpr-6-1-f", "scope": "case"})}


def test_data_a_disclosure_brought_from_no_record_has_no_dates_whatever_else_brought_it():
    # The fraud unit got the claim from the claims system, and the same claims data from the
    # archive, where no record of the subject is: the archive's copy has no end to run from, so
    # the fraud file is kept with no date, with one record or two.
    flows = [ARCHIVE[f].doc for f in ("claims-to-siu", "archive-to-siu")]
    for records in ([CLAIM], [POLICY, CLAIM]):
        subject = SubjectRow("S", "policyholder", records, [], disclosures=[
            {"flow": f["id"], "at": "2025-02-01T00:00:00+00:00"} for f in flows])
        report = compute(subject, flows, ARCHIVE, CategoryTree(CATEGORIES), as_of=ON)
        assert {(h.category, h.collected, h.ended) for h in report.holdings if h.system == "siu"} == {
            ("claims", None, None)}


KEPT = {"system": "crm", "categories": ["contact"], "since": "2012-01-01", "until": "2020-01-01",
        "restricted": "2026-01-15"}
AGAIN = {"system": "crm", "categories": ["contact"], "since": "2024-01-01"}
FEEDS = {"crm": Stored("system", {"id": "crm"}), "dwh": Stored("system", {"id": "dwh"}),
         "reg": Stored("system", {"id": "reg"}),
         "crm-to-dwh": Stored("flow", {"id": "crm-to-dwh", "from": "crm", "to": "dwh", "categories": ["contact"],
                                       "purpose": "service", "legal_basis": "gdpr-6-1-b", "scope": "all"}),
         "dwh-to-reg": Stored("flow", {"id": "dwh-to-reg", "from": "dwh", "to": "reg", "categories": ["contact"],
                                       "purpose": "service", "legal_basis": "gdpr-6-1-c", "scope": "all"})}


def holdings(records, entities=FEEDS):
    flows = [e.doc for e in entities.values() if e.type == "flow"]
    report = compute(SubjectRow("S", "policyholder", records, []), flows, entities,
                     CategoryTree([{"id": "contact"}]), as_of=ON)
    return [(h.system, h.collected, h.ended) for h in report.holdings]


def test_data_kept_by_an_erasure_does_not_stop_a_new_contracts_data_from_flowing_on():
    # A customer again after an erasure that kept the old contract's data: the new contract's
    # data flows on from the CRM as any customer's, in whichever order the records come.
    expected = [("crm", date(2024, 1, 1), None), ("dwh", date(2024, 1, 1), None), ("reg", date(2024, 1, 1), None)]
    assert holdings([KEPT, AGAIN]) == holdings([AGAIN, KEPT]) == expected
    # where the kept data sits downstream, the new data reaches it and flows on from there too
    kept_in_dwh = {**KEPT, "system": "dwh"}
    assert holdings([kept_in_dwh, AGAIN]) == holdings([AGAIN, kept_in_dwh]) == [
        ("crm", date(2024, 1, 1), None), ("dwh", date(2024, 1, 1), None), ("reg", date(2024, 1, 1), None)]
    # near misses: the kept data alone stays where it is; the new data alone flows on
    assert holdings([KEPT]) == [("crm", date(2012, 1, 1), date(2020, 1, 1))]
    assert holdings([AGAIN]) == expected

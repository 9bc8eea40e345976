"""`Spread.sources`, the one walk that says which of a subject's records the data each holder
holds came from (the DSAR's retention dates), gives what one walk per record gives: on random
landscapes (hypothesis) with category hierarchies, cycles, case flows with and without a
disclosure, consent that stands, was withdrawn or never given, records collected after the day
and records an erasure restricted; and exactly on a known graph, where a recorded disclosure from
a system only one record reaches dates the data by that record alone."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.store import Stored
from graph.subjects import SubjectRow
from registry.categories import CategoryTree, Tree
from registry.legal_bases import builtin_bases
from registry.subjects.consent import Rules
from registry.subjects.dsar import compute
from registry.subjects.spread import Spread

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

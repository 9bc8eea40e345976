"""The questions the benchmark asks, each as a GraphQL query and as the direct service call,
with what counts as its answer's size and content (to compare backends and the peer).

The parameters are picked from the bundle alone (`Picks`), so every backend and the peer get
the same ones: the category held by the share of nodes closest to 30 %, the system that holds
the most, a front-office system of the first subsidiary, one of its core systems as the
breached one, and a fixed sequence of data subjects.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from registry import compliance
from registry.auth.roles import Principal
from registry.compliance.settings import Settings as ComplianceSettings
from registry.service import Registry
from registry.subjects.service import SubjectService

from bench.synthetic import AS_OF, TIERS

DETECTED_AT = datetime(2026, 6, 30, 9, 30, tzinfo=timezone.utc)
PAGE = 100


@dataclass(frozen=True)
class Picks:
    category: str
    holder: str
    start: str
    breached: tuple[str, ...]
    subjects: tuple[str, ...]
    as_of: date = date.fromisoformat(AS_OF)

    def subject(self, i: int) -> str:
        return self.subjects[i % len(self.subjects)]

    def email(self, i: int) -> str:
        """The subject's e-mail as a person types it (the registry normalises it)."""
        return f" S{int(self.subject(i)[1:])}@Example.org"


def picks(bundle: dict, subjects: int, seed: int = 5, sample: int = 1000) -> Picks:
    parents = {c["id"]: c.get("parent") for c in bundle["categories"]}
    children: dict[str, set[str]] = {}
    for id_, parent in parents.items():
        if parent:
            children.setdefault(parent, set()).add(id_)

    def overlapping(category: str) -> set[str]:
        found, todo = {category}, [category]
        while todo:
            for child in children.get(todo.pop(), ()):
                found.add(child)
                todo.append(child)
        up = parents[category]
        while up:
            found.add(up)
            up = parents[up]
        return found

    nodes = len(bundle["systems"]) + len(bundle["parties"])
    share = {}
    for category in parents:
        wanted = overlapping(category)
        held = {s["id"] for s in bundle["systems"] if any(h["category"] in wanted for h in s["holds"])}
        held |= {f["to"] for f in bundle["flows"] if wanted.intersection(f["categories"])}
        share[category] = len(held) / nodes
    incoming = Counter(f["to"] for f in bundle["flows"])
    holder = max(sorted(s["id"] for s in bundle["systems"]), key=lambda s: incoming[s])
    first = sorted(s["id"] for s in bundle["systems"] if s["id"].startswith("sys-001-"))
    core = [s for s in first if int(s[-2:]) * TIERS // len(first) == 1]
    rng = random.Random(seed)
    return Picks(category=min(sorted(share), key=lambda c: abs(share[c] - 0.30)), holder=holder, start=first[0],
                 breached=(core[0],), subjects=tuple(f"S{rng.randrange(subjects):08d}" for _ in range(sample)))


@dataclass
class Ours:
    """Our side of one backend: the services a direct call uses (what the API's context holds)."""

    registry: Registry
    subjects: SubjectService
    compliance: ComplianceSettings
    principal: Principal


HOLDING = ("holder { ... on System { id name } ... on Party { id name } } category { id } declared flow { id } "
           "purposes { id } legalBasis { id } path")
DSAR = """subject { id kind } holdings { system { id } category purposes legalBasis retention path }
  recipients { party { id name kind country } flow categories purposes legalBasis agreement { id } transferMechanism path }
  suspendedFlows { id purpose } consents { purpose status at } sources { party { id } system categories }"""


@dataclass(frozen=True)
class Question:
    name: str
    query: str
    variables: Callable[[Picks, int], dict]
    data_size: Callable[[dict], int]
    """The size of the GraphQL answer (`data`)."""
    direct: Callable[[Ours, Picks, int], Any] | None
    size: Callable[[Any], int]
    """The size of the direct answer, counted as `data_size` counts."""
    content: Callable[[Any], Any] = lambda answer: None
    """What the direct answer says, in a form the peer's answer can be compared with."""
    cheap: bool = True
    """Quick enough to repeat many times over HTTP and under concurrency."""


def _holdings(views) -> list[tuple]:
    return sorted((v.holding.holder, v.holding.category, v.holding.flow or "") for v in views)


def _lineage(found) -> tuple:
    return frozenset(n.id for n in found.nodes), frozenset(e["id"] for e in found.edges)


def _dsar(report) -> tuple:
    return (frozenset((h.system, h.category) for h in report.holdings),
            frozenset((r.party, r.flow) for r in report.recipients))


def _breach(found) -> tuple:
    return frozenset(r.holder.id for r in found.recipients), found.subject_count


QUESTIONS: dict[str, Question] = {q.name: q for q in (
    Question("holders", f"query ($c: ID!) {{ holders(category: $c) {{ totalCount nodes {{ {HOLDING} }} }} }}",
             lambda p, i: {"c": p.category}, lambda d: len(d["holders"]["nodes"]),
             lambda o, p, i: o.registry.holders(p.category), len, _holdings),
    Question("holders-page", f"query ($c: ID!, $n: Int) {{ holders(category: $c, first: $n) "
                             f"{{ totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ {HOLDING} }} }} }}",
             lambda p, i: {"c": p.category, "n": PAGE}, lambda d: len(d["holders"]["nodes"]),
             lambda o, p, i: o.registry.holders(p.category)[:PAGE], len),
    Question("holdings", f"query ($h: ID!) {{ holdings(holder: $h) {{ totalCount nodes {{ {HOLDING} }} }} }}",
             lambda p, i: {"h": p.holder}, lambda d: len(d["holdings"]["nodes"]),
             lambda o, p, i: o.registry.holdings(p.holder), len, _holdings),
    Question("lineage-depth-3", "query ($n: ID!) { lineage(from: $n, depth: 3) "
                                "{ nodes { id kind name } edges { id from to categories purpose } } }",
             lambda p, i: {"n": p.start}, lambda d: len(d["lineage"]["edges"]),
             lambda o, p, i: o.registry.lineage(p.start, "downstream", 3), lambda a: len(a.edges), _lineage),
    Question("lineage", "query ($n: ID!) { lineage(from: $n) "
                        "{ nodes { id kind name } edges { id from to categories purpose } } }",
             lambda p, i: {"n": p.start}, lambda d: len(d["lineage"]["edges"]),
             lambda o, p, i: o.registry.lineage(p.start, "downstream", None), lambda a: len(a.edges), _lineage),
    Question("lineage-whole", "{ lineage { nodes { id kind name } edges { id from to categories purpose } } }",
             lambda p, i: {}, lambda d: len(d["lineage"]["edges"]),
             lambda o, p, i: o.registry.lineage(None), lambda a: len(a.edges), _lineage, cheap=False),
    Question("dsar", f"query ($s: ID) {{ dsar(subject: $s) {{ {DSAR} }} }}",
             lambda p, i: {"s": p.subject(i)},
             lambda d: len(d["dsar"]["holdings"]) + len(d["dsar"]["recipients"]),
             lambda o, p, i: o.subjects.report(principal=o.principal, subject=p.subject(i)),
             lambda r: len(r.holdings) + len(r.recipients), _dsar),
    Question("dsar-email", f"query ($e: String) {{ dsar(email: $e) {{ {DSAR} }} }}",
             lambda p, i: {"e": p.email(i)},
             lambda d: len(d["dsar"]["holdings"]) + len(d["dsar"]["recipients"]),
             lambda o, p, i: o.subjects.report(principal=o.principal, email=p.email(i)),
             lambda r: len(r.holdings) + len(r.recipients), _dsar),
    Question("findings", "query ($d: Date) { findings(asOf: $d) "
                         "{ totalCount nodes { rule severity entityKind entityId category message subjectCount } } }",
             lambda p, i: {"d": p.as_of.isoformat()}, lambda d: len(d["findings"]["nodes"]),
             lambda o, p, i: compliance.findings(o.registry, as_of=p.as_of, settings=o.compliance), len,
             lambda found: Counter(f.rule for f in found), cheap=False),
    Question("breach", "query ($s: [ID!], $t: DateTime!) { breachImpact(systems: $s, detectedAt: $t) "
                       "{ highRisk exposed { category { id } highRisk } recipients { holder { id kind } "
                       "categories { id } flows } duties { id deadline } subjectCount } }",
             lambda p, i: {"s": list(p.breached), "t": DETECTED_AT.isoformat()},
             lambda d: len(d["breachImpact"]["recipients"]),
             lambda o, p, i: compliance.breach_impact(o.registry, systems=p.breached, detected_at=DETECTED_AT),
             lambda b: len(b.recipients), _breach, cheap=False),
)}

SUBJECT_QUESTIONS = frozenset({"dsar", "dsar-email", "breach"})
"""Questions whose answers depend on the loaded data subjects."""


def lineage_export(schema) -> tuple[Question | None, str]:
    """The lineage export in GraphML through GraphQL (`lineageExport(format:, from:)`) when the
    schema has one, else None and the reason: the question is skipped, not failed."""
    from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLScalarType, get_named_type

    field = schema._schema.query_type.fields.get("lineageExport")
    if field is None:
        return None, "the schema has no lineageExport yet"
    if "format" not in field.args or "from" not in field.args:
        return None, f"lineageExport takes ({', '.join(field.args)}), not format and from"
    format_type = get_named_type(field.args["format"].type)
    if isinstance(format_type, GraphQLEnumType):
        value = next((name for name in format_type.values if name.lower() == "graphml"), None)
        if value is None:
            return None, f"lineageExport knows no GraphML format ({', '.join(format_type.values)})"
        argument = value
    elif isinstance(format_type, GraphQLScalarType) and format_type.name == "String":
        argument = '"graphml"'
    else:
        return None, f"lineageExport's format is a {format_type}"
    result = get_named_type(field.type)
    if isinstance(result, GraphQLObjectType):
        scalars = [name for name, f in result.fields.items() if isinstance(get_named_type(f.type), GraphQLScalarType)]
        selection = f" {{ {' '.join(scalars)} }}"
    elif isinstance(result, GraphQLScalarType):
        selection = ""
    else:
        return None, f"lineageExport returns a {result}"
    query = f"query ($n: ID!) {{ lineageExport(format: {argument}, from: $n){selection} }}"
    return Question("lineage-export", query, lambda p, i: {"n": p.start},
                    lambda d: len(str(d["lineageExport"])), None, len, cheap=False), "graphml"

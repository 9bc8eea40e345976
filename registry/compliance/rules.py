"""The compliance rules: each a small function over the shared `Facts`, yielding `Hit`s.

A rule's metadata (stable id, severity, legal reference, what it checks, the remedy, the
regimes it belongs to) lives in `RULES`; `registry.compliance.findings` turns hits into
findings. To add a rule, decorate a function `check(facts) -> Iterable[Hit]` with `@rule(...)`.

Which law applies: the GDPR rules here check a flow or declared holding only where the GDPR or
the UK GDPR governs it (`Facts.flow_regime`, `Facts.holding_regime`), and only the categories
that regime governs there; the hit names the regime (the GDPR's where both apply, the UK GDPR
keeping the GDPR's article numbers). Transfers are checked per regime, with each regime's
territory and adequacy list. The US rules (GLBA, NAIC #672) are in `registry.compliance.us`.

Shared definitions: a flow's effective terms are its own, or else its agreement's; the GDPR
Art. 6(1) basis is the legal basis (or an additional basis) of kind `lawful-basis`; an Art. 9(2)
condition is a condition (or an additional basis) of kind `special-condition` other than
`gdpr-10` (Art. 10); a party is nonaffiliated unless its kind is `affiliate`; an agreement's
`expires` is its last day in force; an agreement's purposes cover their descendants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, NamedTuple

from graph.store import Doc
from registry.compliance.facts import Facts
from registry.compliance.regimes import ADEQUACY, GDPR_FAMILY, LAW, TERRITORY

Severity = Literal["error", "warning", "info"]

GDPR = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"
EXPIRING_WITHIN = timedelta(days=90)


class Hit(NamedTuple):
    """One thing a rule found: the entity concerned, what is wrong with it, and under which regime.
    (A named tuple: rules make tens of thousands of them on a large registry.)"""

    entity_kind: str
    entity_id: str
    message: str
    category: str | None = None
    subject_count: int | None = None
    regime: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    reference: str
    summary: str
    remedy: str
    help_uri: str
    check: Callable[[Facts], Iterable[Hit]]
    regimes: tuple[str, ...] = GDPR_FAMILY


RULES: dict[str, Rule] = {}


def rule(id_: str, severity: Severity, reference: str, summary: str, remedy: str, help_uri: str = GDPR,
         regimes: tuple[str, ...] = GDPR_FAMILY):
    def register(check: Callable[[Facts], Iterable[Hit]]):
        RULES[id_] = Rule(id_, severity, reference, summary, remedy, help_uri, check, regimes)
        return check
    return register


def flow_text(flow: Doc) -> str:
    return f"Flow {flow['id']} ({flow['from']} → {flow['to']})"


def _holding(system: str, category: str) -> str:
    return f"The holding of {category} that system {system} declares"


def _but(basis: str | None) -> str:
    return f" ({basis} is not one)" if basis else ""


def gdpr_flows(facts: Facts) -> Iterator[tuple[Doc, str, list[str]]]:
    """(flow, regime, categories it governs) for every checked flow the GDPR or the UK GDPR governs."""
    return iter(facts.gdpr_flows)


def gdpr_holdings(facts: Facts) -> Iterator[tuple[str, Doc, str]]:
    """(system, `holds` entry, regime) for every declared holding the GDPR or the UK GDPR governs."""
    for system, held in facts.holdings():
        if regime := facts.holding_regime(system, held["category"]):
            yield system, held, regime


@rule("missing-legal-basis", "error", "GDPR Art. 6(1)",
      "A flow or declared holding has no effective GDPR Art. 6(1) basis.",
      "Record the Art. 6(1) basis as `legal_basis` on the flow, its agreement or the declaration (a US basis "
      "the data also needs goes in `additional_bases`).")
def missing_legal_basis(facts: Facts) -> Iterator[Hit]:
    def lacking(basis: str | None) -> str:
        if basis is None:
            return "has no legal basis"
        return f"has no GDPR Art. 6(1) basis ({basis} is a {facts.kind(basis)} basis, which the GDPR does not know)"

    why = "personal data may only be processed on one of the Art. 6(1) bases."
    for flow, regime, _ in gdpr_flows(facts):
        basis, _, additional = facts.recorded(flow)
        if not facts.art_6_basis(basis, additional):
            own = "" if basis else ", neither its own nor its agreement's"
            yield Hit("flow", flow["id"], f"{flow_text(flow)} {lacking(basis)}{own}: {why}", regime=regime)
    for system, held, regime in gdpr_holdings(facts):
        basis, _, additional = facts.recorded(held, flow=False)
        if not facts.art_6_basis(basis, additional):
            yield Hit("holding", system, f"{_holding(system, held['category'])} {lacking(basis)}: {why}",
                      held["category"], regime=regime)


@rule("special-category-without-condition", "error", "GDPR Art. 9(1)-(2)",
      "Special-category data (or a descendant category) is processed without an effective Art. 9(2) condition.",
      "Record the Art. 9(2) condition as `condition` (e.g. gdpr-9-2-a explicit consent, gdpr-9-2-f legal "
      "claims), or stop processing the data.")
def special_category_without_condition(facts: Facts) -> Iterator[Hit]:
    why = ("health, genetic, biometric and other Art. 9 data may only be processed under one of the "
           "Art. 9(2) exceptions.")
    for flow, regime, special in facts.gdpr_carrying("special"):
        _, condition, additional = facts.recorded(flow)
        if not facts.art_9_condition(condition, additional):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} carries special-category data ({', '.join(special)}) "
                                          f"without an Art. 9(2) condition{_but(condition)}: {why}", regime=regime)
    for system, held, regime in gdpr_holdings(facts):
        _, condition, additional = facts.recorded(held, flow=False)
        if facts.tree.is_("special", held["category"]) and not facts.art_9_condition(condition, additional):
            yield Hit("holding", system, f"{_holding(system, held['category'])} is special-category data without "
                                         f"an Art. 9(2) condition{_but(condition)}: {why}",
                      held["category"], regime=regime)


@rule("criminal-data-without-authorisation", "error", "GDPR Art. 10",
      "Criminal-offence data is processed without gdpr-10 as the condition.",
      "Set `condition: gdpr-10` and document the law that authorises the processing, or stop it.")
def criminal_data_without_authorisation(facts: Facts) -> Iterator[Hit]:
    why = ("data on criminal convictions and offences may only be processed under official authority or where "
           "Union or Member State law authorises it.")
    for flow, regime, criminal in facts.gdpr_carrying("criminal"):
        _, condition, additional = facts.recorded(flow)
        if "gdpr-10" not in (condition, *additional):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} carries criminal-offence data ({', '.join(criminal)}) "
                                          f"without gdpr-10 as its condition: {why}", regime=regime)
    for system, held, regime in gdpr_holdings(facts):
        _, condition, additional = facts.recorded(held, flow=False)
        if facts.tree.is_("criminal", held["category"]) and "gdpr-10" not in (condition, *additional):
            yield Hit("holding", system, f"{_holding(system, held['category'])} is criminal-offence data without "
                                         f"gdpr-10 as its condition: {why}", held["category"], regime=regime)


@rule("basis-kind-mismatch", "error", "GDPR Art. 6(1), Art. 9(2)",
      "An Art. 9(2) condition is used as the legal basis, or an Art. 6(1) basis as the condition.",
      "Put the Art. 6(1) basis in `legal_basis` and the Art. 9(2) / Art. 10 condition in `condition`.")
def basis_kind_mismatch(facts: Facts) -> Iterator[Hit]:
    def wrong(doc: Doc) -> str | None:
        basis, condition = doc.get("legal_basis"), doc.get("condition")
        if facts.kind(basis) == "special-condition":
            return (f"uses {basis}, a special-category condition, as its legal basis: a condition lifts the ban on "
                    "special data but is no Art. 6(1) lawful basis.")
        if facts.kind(condition) == "lawful-basis":
            return (f"uses {condition}, an Art. 6(1) lawful basis, as its condition: that slot is for the Art. 9(2) "
                    "or Art. 10 condition, and a lawful basis there is no such condition.")
        return None

    agreement_regimes = _agreement_regimes(facts)
    for agreement in facts.agreements.values():
        if agreement["id"] in agreement_regimes and (problem := wrong(agreement)):
            yield Hit("agreement", agreement["id"], f"Agreement {agreement['id']} {problem}",
                      regime=agreement_regimes[agreement["id"]])
    for flow, regime, _ in gdpr_flows(facts):
        if problem := wrong(flow):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} {problem}", regime=regime)
    for system, held, regime in gdpr_holdings(facts):
        if problem := wrong(held):
            yield Hit("holding", system, f"{_holding(system, held['category'])} {problem}", held["category"],
                      regime=regime)


def _agreement_regimes(facts: Facts) -> dict[str, str]:
    """Agreement id -> the first GDPR-family regime of a party to it or of a checked flow relying on it."""
    found: dict[str, set[str]] = {}
    for agreement in facts.agreements.values():
        found[agreement["id"]] = {r for party in agreement["parties"] for r in GDPR_FAMILY if facts.under(party, r)}
    for flow, regime, _ in gdpr_flows(facts):
        if flow.get("agreement") in found:
            found[flow["agreement"]].add(regime)
    return {id_: next(r for r in GDPR_FAMILY if r in regimes) for id_, regimes in found.items() if regimes}


@rule("external-flow-without-agreement", "error", "GDPR Art. 5(2), Art. 26, Art. 28(3)",
      "A flow to or from an external party has no agreement.",
      "Record the data-sharing, processing, regulatory or joint-controller agreement as `agreement` on the flow.")
def external_flow_without_agreement(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        external = [end for end in (flow["from"], flow["to"]) if facts.is_party(end)]
        if external and not flow.get("agreement"):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} exchanges data with external party {external[0]} without "
                                          "an agreement: nothing records what may be shared, why and on what terms.",
                      regime=regime)


@rule("agreement-expired", "error", "GDPR Art. 5(2), Art. 28(3), Art. 46(2)",
      "A flow relies on an agreement whose last day in force has passed.",
      "Renew or replace the agreement and record it on the flow, or stop the flow.")
def agreement_expired(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        agreement = facts.agreement(flow)
        if agreement and agreement["status"] == "active" and agreement["effective"] <= facts.day \
                and agreement.get("expires") and agreement["expires"] < facts.day:
            yield Hit("flow", flow["id"], f"{flow_text(flow)} relies on agreement {agreement['id']}, which expired on "
                                          f"{agreement['expires']}: the data keeps moving without a contract in force.",
                      regime=regime)


@rule("agreement-expiring", "warning", "GDPR Art. 5(2), Art. 28(3), Art. 46(2)",
      "An agreement that flows rely on expires within 90 days of the evaluation date.",
      "Renew the agreement in time, or plan to stop the flows that rely on it.")
def agreement_expiring(facts: Facts) -> Iterator[Hit]:
    relying: dict[str, tuple[str, list[str]]] = {}
    for flow, regime, _ in gdpr_flows(facts):
        if flow.get("agreement"):
            relying.setdefault(flow["agreement"], (regime, []))[1].append(flow["id"])
    today, horizon = facts.as_of.isoformat(), (facts.as_of + EXPIRING_WITHIN).isoformat()
    for id_, (regime, flows) in relying.items():
        agreement = facts.agreements[id_]
        expires = agreement.get("expires")
        if agreement["status"] == "active" and agreement["effective"] <= today and expires \
                and today <= expires <= horizon:
            days = (date.fromisoformat(expires) - facts.as_of).days
            yield Hit("agreement", id_, f"Agreement {id_} expires on {expires}, in {days} day(s); "
                                        f"{len(flows)} flow(s) rely on it: {', '.join(flows)}.", regime=regime)


@rule("agreement-not-active", "error", "GDPR Art. 5(2), Art. 28(3), Art. 46(2)",
      "A flow relies on a draft or terminated agreement, or on one not yet in force.",
      "Sign and activate the agreement before data flows under it, or stop the flow.")
def agreement_not_active(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        agreement = facts.agreement(flow)
        if not agreement:
            continue
        if agreement["status"] == "draft":
            state = "is still a draft"
        elif agreement["status"] == "terminated":
            state = "has been terminated"
        elif agreement["effective"] > facts.day:
            state = f"does not take effect until {agreement['effective']}"
        else:
            continue
        yield Hit("flow", flow["id"], f"{flow_text(flow)} relies on agreement {agreement['id']}, which {state}: "
                                      "no agreement in force covers the data.", regime=regime)


@rule("agreement-party-mismatch", "error", "GDPR Art. 5(2), Art. 26, Art. 28(3)",
      "The flow's external end is not a party to the flow's agreement.",
      "Add the party to the agreement, or record an agreement the party has signed.")
def agreement_party_mismatch(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        agreement = facts.agreement(flow)
        if not agreement:
            continue
        outside = [end for end in (flow["from"], flow["to"]) if facts.is_party(end) and end not in agreement["parties"]]
        if outside:
            yield Hit("flow", flow["id"], f"{flow_text(flow)} relies on agreement {agreement['id']}, but {outside[0]} is "
                                          f"not a party to it (parties: {', '.join(agreement['parties'])}): the "
                                          "agreement does not bind the organisation at the other end.", regime=regime)


@rule("agreement-category-out-of-scope", "error", "GDPR Art. 5(1)(c)",
      "A flow carries a category outside its agreement's categories and their descendants.",
      "Stop sending those categories, or extend the agreement's scope.")
def agreement_category_out_of_scope(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        agreement = facts.agreement(flow)
        if not agreement or not agreement.get("categories"):
            continue
        outside = [c for c in flow["categories"] if not facts.tree.covered(c, agreement["categories"])]
        if outside:
            yield Hit("flow", flow["id"], f"{flow_text(flow)} carries {', '.join(outside)}, outside the categories of "
                                          f"agreement {agreement['id']} ({', '.join(agreement['categories'])}): more "
                                          "data is shared than agreed (data minimisation).", regime=regime)


@rule("agreement-purpose-out-of-scope", "error", "GDPR Art. 5(1)(b)",
      "A flow serves a purpose its agreement does not cover (neither one of its purposes nor a descendant of one).",
      "Use the data only for the agreed purposes, or amend the agreement.")
def agreement_purpose_out_of_scope(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        agreement = facts.agreement(flow)
        if agreement and agreement.get("purposes") \
                and not facts.purpose_tree.covered(flow["purpose"], agreement["purposes"]):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} serves {flow['purpose']}, a purpose agreement "
                                          f"{agreement['id']} does not cover ({', '.join(agreement['purposes'])}): "
                                          "data is used beyond what was agreed (purpose limitation).", regime=regime)


@rule("transfer-without-safeguard", "error", "GDPR Art. 44-46",
      "A transfer out of the EEA (or the UK), onward transfers at any depth included, to a third country "
      "without an adequacy decision has no transfer mechanism.",
      "Put standard contractual clauses (scc; for the UK the IDTA or the UK Addendum), binding corporate rules "
      "(bcr) or an Art. 49 derogation in place and record it as `transfer_mechanism`; a US recipient certified "
      "under the Data Privacy Framework is `dpf_certified: true` (`dpf_uk_extension: true` for its UK Extension).")
def transfer_without_safeguard(facts: Facts) -> Iterator[Hit]:
    for regime in GDPR_FAMILY:
        third = facts.third_countries(regime)
        for flow in facts.flows:
            if flow["to"] not in third or not facts.exported(flow, regime):
                continue
            mechanism = facts.mechanism(flow)
            if mechanism and mechanism != "adequacy":
                continue
            territory = TERRITORY[regime]
            what = (f"an onward transfer of data received from {territory}" if facts.onward(flow, regime)
                    else f"a transfer from {territory}")
            lacking = ("the recorded mechanism 'adequacy' does not apply" if mechanism
                       else "there is no transfer mechanism on the flow or its agreement")
            country = facts.ends[flow["to"]]["country"]
            yield Hit("flow", flow["id"], f"{flow_text(flow)} is {what} to {country}, where no {ADEQUACY[regime]} "
                                          f"covers this recipient, and {lacking}: the data leaves the "
                                          f"{LAW[regime]}'s protection without appropriate safeguards.", regime=regime)


@rule("processor-without-dpa", "error", "GDPR Art. 28(3)",
      "A flow goes to a processor without a data processing agreement (kind dpa).",
      "Sign a data processing agreement (kind `dpa`) with the processor and record it on the flow.")
def processor_without_dpa(facts: Facts) -> Iterator[Hit]:
    for flow, regime, _ in gdpr_flows(facts):
        party = facts.parties.get(flow["to"])
        if not party or party["role"] != "processor":
            continue
        agreement = facts.agreement(flow)
        if agreement and agreement["kind"] == "dpa":
            continue
        under = f"under agreement {agreement['id']} (kind {agreement['kind']})" if agreement else "under no agreement"
        yield Hit("flow", flow["id"], f"{flow_text(flow)} sends data to processor {party['id']} {under}, not under a "
                                      "data processing agreement: a processor may only process personal data under "
                                      "a contract that meets Art. 28(3).", regime=regime)


@rule("source-does-not-hold", "warning", "GDPR Art. 5(2), Art. 30(1)(c)",
      "A flow from a system carries a category the system neither declares nor receives through a chain that "
      "starts at a declaration or a party (a lineage gap; a cycle nothing feeds is one on each of its flows).",
      "Declare the holding on the system (`holds`) or record the flow that brings the data to it.")
def source_does_not_hold(facts: Facts) -> Iterator[Hit]:
    overlap = facts.bits.overlap
    for flow, regime, governed in gdpr_flows(facts):
        if flow["from"] not in facts.systems:
            continue
        fed = facts.fed.get(flow["from"], 0)  # `holds_data_of`, inlined: most flows come from systems
        missing = [c for c in governed if not overlap[c] & fed]
        if missing:
            yield Hit("flow", flow["id"], f"{flow_text(flow)} carries {', '.join(missing)}, which {flow['from']} neither "
                                          "declares nor receives from a declaration or a party: the registry cannot "
                                          "say where the data comes from.", regime=regime)


@rule("holding-without-retention", "warning", "GDPR Art. 5(1)(e), Art. 30(1)(f)",
      "A declared holding has no retention period.",
      "Set `retention` on the declaration (an ISO 8601 duration such as P10Y).")
def holding_without_retention(facts: Facts) -> Iterator[Hit]:
    for system, held, regime in gdpr_holdings(facts):
        if not held.get("retention"):
            yield Hit("holding", system, f"{_holding(system, held['category'])} has no retention period: data may "
                                         "not be kept longer than necessary, and the Art. 30 record must state when "
                                         "it is erased.", held["category"], regime=regime)


@rule("consent-flow-for-special-category-without-explicit-consent", "error", "GDPR Art. 9(2)(a)",
      "Special-category data flows on consent (gdpr-6-1-a) without explicit consent (gdpr-9-2-a) as the condition.",
      "Obtain and record explicit consent (`condition: gdpr-9-2-a`), or rely on a basis and condition that fit.")
def consent_without_explicit_consent(facts: Facts) -> Iterator[Hit]:
    for flow, regime, special in facts.gdpr_carrying("special"):
        basis, condition, additional = facts.recorded(flow)
        if basis == "gdpr-6-1-a" and "gdpr-9-2-a" not in (condition, *additional):
            yield Hit("flow", flow["id"], f"{flow_text(flow)} carries special-category data ({', '.join(special)}) on "
                                          f"consent, but its condition is {condition or 'missing'}, not explicit "
                                          "consent (gdpr-9-2-a): consent to special-category data must be explicit.",
                      regime=regime)

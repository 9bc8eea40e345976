"""The compliance rules: each a small function over the shared `Facts`, yielding `Hit`s.

A rule's metadata (stable id, severity, legal reference, what it checks, the remedy) lives in
`RULES`; `registry.compliance.findings` turns hits into findings. To add a rule, decorate a
function `check(facts) -> Iterable[Hit]` with `@rule(...)`.

Shared definitions: a flow's effective legal basis and condition are its own, or else its
agreement's; an Art. 9(2) condition is a basis of kind `special-condition` other than `gdpr-10`
(Art. 10); a party is nonaffiliated unless its kind is `affiliate`; an agreement's `expires` is its
last day in force.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from graph.store import Doc
from registry.compliance.facts import Facts

Severity = Literal["error", "warning", "info"]

GDPR = "https://eur-lex.europa.eu/eli/reg/2016/679/oj"
GLBA = "https://www.law.cornell.edu/uscode/text/15/6802"
NAIC_672 = "https://content.naic.org/sites/default/files/inline-files/MDL-672.pdf"
GLBA_ALLOWED = frozenset({"glba-6802-b", *(f"glba-6802-e-{n}" for n in range(1, 9)), "naic-672-authorisation"})
"""The opt-out, the 6802(e) exceptions, and the NAIC #672 authorisation: the consumer's signed
consent to the disclosure, which 6802(e)(2) accepts."""
EXPIRING_WITHIN = timedelta(days=90)


@dataclass(frozen=True)
class Hit:
    """One thing a rule found: the entity concerned and what is wrong with it."""

    entity_kind: str
    entity_id: str
    message: str
    category: str | None = None
    subject_count: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    reference: str
    summary: str
    remedy: str
    help_uri: str
    check: Callable[[Facts], Iterable[Hit]]


RULES: dict[str, Rule] = {}


def rule(id_: str, severity: Severity, reference: str, summary: str, remedy: str, help_uri: str = GDPR):
    def register(check: Callable[[Facts], Iterable[Hit]]):
        RULES[id_] = Rule(id_, severity, reference, summary, remedy, help_uri, check)
        return check
    return register


def _flow(flow: Doc) -> str:
    return f"Flow {flow['id']} ({flow['from']} → {flow['to']})"


def _holding(system: str, category: str) -> str:
    return f"The holding of {category} that system {system} declares"


def _art_9_condition(facts: Facts, basis: str | None) -> bool:
    return facts.kind(basis) == "special-condition" and basis != "gdpr-10"


def _but(basis: str | None) -> str:
    return f" ({basis} is not one)" if basis else ""


@rule("missing-legal-basis", "error", "GDPR Art. 6(1)",
      "A flow or declared holding has no effective legal basis.",
      "Record the Art. 6(1) basis as `legal_basis` on the flow, its agreement or the declaration.")
def missing_legal_basis(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        if not facts.basis(flow):
            yield Hit("flow", flow["id"], f"{_flow(flow)} has no legal basis, neither its own nor its agreement's: "
                                          "personal data may only be processed on one of the Art. 6(1) bases.")
    for system, held in facts.holdings():
        if not held.get("legal_basis"):
            yield Hit("holding", system, f"{_holding(system, held['category'])} has no legal basis: personal data "
                                         "may only be processed on one of the Art. 6(1) bases.", held["category"])


@rule("special-category-without-condition", "error", "GDPR Art. 9(1)-(2)",
      "Special-category data (or a descendant category) is processed without an effective Art. 9(2) condition.",
      "Record the Art. 9(2) condition as `condition` (e.g. gdpr-9-2-a explicit consent, gdpr-9-2-f legal "
      "claims), or stop processing the data.")
def special_category_without_condition(facts: Facts) -> Iterator[Hit]:
    why = ("health, genetic, biometric and other Art. 9 data may only be processed under one of the "
           "Art. 9(2) exceptions.")
    for flow in facts.flows:
        special = facts.carried(flow, "special")
        condition = facts.condition(flow)
        if special and not _art_9_condition(facts, condition):
            yield Hit("flow", flow["id"], f"{_flow(flow)} carries special-category data ({', '.join(special)}) "
                                          f"without an Art. 9(2) condition{_but(condition)}: {why}")
    for system, held in facts.holdings():
        if facts.tree.is_("special", held["category"]) and not _art_9_condition(facts, held.get("condition")):
            yield Hit("holding", system, f"{_holding(system, held['category'])} is special-category data without "
                                         f"an Art. 9(2) condition{_but(held.get('condition'))}: {why}",
                      held["category"])


@rule("criminal-data-without-authorisation", "error", "GDPR Art. 10",
      "Criminal-offence data is processed without gdpr-10 as the condition.",
      "Set `condition: gdpr-10` and document the law that authorises the processing, or stop it.")
def criminal_data_without_authorisation(facts: Facts) -> Iterator[Hit]:
    why = ("data on criminal convictions and offences may only be processed under official authority or where "
           "Union or Member State law authorises it.")
    for flow in facts.flows:
        criminal = facts.carried(flow, "criminal")
        if criminal and facts.condition(flow) != "gdpr-10":
            yield Hit("flow", flow["id"], f"{_flow(flow)} carries criminal-offence data ({', '.join(criminal)}) "
                                          f"without gdpr-10 as its condition: {why}")
    for system, held in facts.holdings():
        if facts.tree.is_("criminal", held["category"]) and held.get("condition") != "gdpr-10":
            yield Hit("holding", system, f"{_holding(system, held['category'])} is criminal-offence data without "
                                         f"gdpr-10 as its condition: {why}", held["category"])


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

    for agreement in facts.agreements.values():
        if problem := wrong(agreement):
            yield Hit("agreement", agreement["id"], f"Agreement {agreement['id']} {problem}")
    for flow in facts.flows:
        if problem := wrong(flow):
            yield Hit("flow", flow["id"], f"{_flow(flow)} {problem}")
    for system, held in facts.holdings():
        if problem := wrong(held):
            yield Hit("holding", system, f"{_holding(system, held['category'])} {problem}", held["category"])


@rule("external-flow-without-agreement", "error", "GDPR Art. 5(2), Art. 26, Art. 28(3)",
      "A flow to or from an external party has no agreement.",
      "Record the data-sharing, processing, regulatory or joint-controller agreement as `agreement` on the flow.")
def external_flow_without_agreement(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        external = [end for end in (flow["from"], flow["to"]) if facts.is_party(end)]
        if external and not flow.get("agreement"):
            yield Hit("flow", flow["id"], f"{_flow(flow)} exchanges data with external party {external[0]} without "
                                          "an agreement: nothing records what may be shared, why and on what terms.")


@rule("agreement-expired", "error", "GDPR Art. 5(2), Art. 28(3), Art. 46(2)",
      "A flow relies on an agreement whose last day in force has passed.",
      "Renew or replace the agreement and record it on the flow, or stop the flow.")
def agreement_expired(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        agreement = facts.agreement(flow)
        if agreement and agreement["status"] == "active" and agreement["effective"] <= facts.as_of.isoformat() \
                and agreement.get("expires") and agreement["expires"] < facts.as_of.isoformat():
            yield Hit("flow", flow["id"], f"{_flow(flow)} relies on agreement {agreement['id']}, which expired on "
                                          f"{agreement['expires']}: the data keeps moving without a contract in force.")


@rule("agreement-expiring", "warning", "GDPR Art. 5(2), Art. 28(3), Art. 46(2)",
      "An agreement that flows rely on expires within 90 days of the evaluation date.",
      "Renew the agreement in time, or plan to stop the flows that rely on it.")
def agreement_expiring(facts: Facts) -> Iterator[Hit]:
    relying: dict[str, list[str]] = {}
    for flow in facts.flows:
        if flow.get("agreement"):
            relying.setdefault(flow["agreement"], []).append(flow["id"])
    today, horizon = facts.as_of.isoformat(), (facts.as_of + EXPIRING_WITHIN).isoformat()
    for id_, flows in relying.items():
        agreement = facts.agreements[id_]
        expires = agreement.get("expires")
        if agreement["status"] == "active" and agreement["effective"] <= today and expires \
                and today <= expires <= horizon:
            days = (date.fromisoformat(expires) - facts.as_of).days
            yield Hit("agreement", id_, f"Agreement {id_} expires on {expires}, in {days} day(s); "
                                        f"{len(flows)} flow(s) rely on it: {', '.join(flows)}.")


@rule("agreement-not-active", "error", "GDPR Art. 5(2), Art. 28(3), Art. 46(2)",
      "A flow relies on a draft or terminated agreement, or on one not yet in force.",
      "Sign and activate the agreement before data flows under it, or stop the flow.")
def agreement_not_active(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        agreement = facts.agreement(flow)
        if not agreement:
            continue
        if agreement["status"] == "draft":
            state = "is still a draft"
        elif agreement["status"] == "terminated":
            state = "has been terminated"
        elif agreement["effective"] > facts.as_of.isoformat():
            state = f"does not take effect until {agreement['effective']}"
        else:
            continue
        yield Hit("flow", flow["id"], f"{_flow(flow)} relies on agreement {agreement['id']}, which {state}: "
                                      "no agreement in force covers the data.")


@rule("agreement-party-mismatch", "error", "GDPR Art. 5(2), Art. 26, Art. 28(3)",
      "The flow's external end is not a party to the flow's agreement.",
      "Add the party to the agreement, or record an agreement the party has signed.")
def agreement_party_mismatch(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        agreement = facts.agreement(flow)
        if not agreement:
            continue
        outside = [end for end in (flow["from"], flow["to"]) if facts.is_party(end) and end not in agreement["parties"]]
        if outside:
            yield Hit("flow", flow["id"], f"{_flow(flow)} relies on agreement {agreement['id']}, but {outside[0]} is "
                                          f"not a party to it (parties: {', '.join(agreement['parties'])}): the "
                                          "agreement does not bind the organisation at the other end.")


@rule("agreement-category-out-of-scope", "error", "GDPR Art. 5(1)(c)",
      "A flow carries a category outside its agreement's categories and their descendants.",
      "Stop sending those categories, or extend the agreement's scope.")
def agreement_category_out_of_scope(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        agreement = facts.agreement(flow)
        if not agreement or not agreement.get("categories"):
            continue
        outside = [c for c in flow["categories"] if not facts.tree.covered(c, agreement["categories"])]
        if outside:
            yield Hit("flow", flow["id"], f"{_flow(flow)} carries {', '.join(outside)}, outside the categories of "
                                          f"agreement {agreement['id']} ({', '.join(agreement['categories'])}): more "
                                          "data is shared than agreed (data minimisation).")


@rule("agreement-purpose-out-of-scope", "error", "GDPR Art. 5(1)(b)",
      "A flow serves a purpose its agreement does not cover.",
      "Use the data only for the agreed purposes, or amend the agreement.")
def agreement_purpose_out_of_scope(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        agreement = facts.agreement(flow)
        if agreement and agreement.get("purposes") and flow["purpose"] not in agreement["purposes"]:
            yield Hit("flow", flow["id"], f"{_flow(flow)} serves {flow['purpose']}, a purpose agreement "
                                          f"{agreement['id']} does not cover ({', '.join(agreement['purposes'])}): "
                                          "data is used beyond what was agreed (purpose limitation).")


@rule("transfer-without-safeguard", "error", "GDPR Art. 44-46",
      "A transfer from the EEA (or an onward transfer of EEA data) to a third country without an adequacy "
      "decision has no transfer mechanism.",
      "Put standard contractual clauses (scc), binding corporate rules (bcr) or an Art. 49 derogation in place and "
      "record it as `transfer_mechanism`; a US recipient certified under the Data Privacy Framework is "
      "`dpf_certified: true`.")
def transfer_without_safeguard(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        if not facts.third_country(flow["to"]) or not facts.transfer(flow):
            continue
        mechanism = facts.mechanism(flow)
        if mechanism and mechanism != "adequacy":
            continue
        onward = flow["from"] not in facts.in_eea
        country = facts.ends[flow["to"]]["country"]
        what = "an onward transfer of data received from the EEA" if onward else "a transfer from the EEA"
        lacking = ("the recorded mechanism 'adequacy' does not apply" if mechanism
                   else "there is no transfer mechanism on the flow or its agreement")
        yield Hit("flow", flow["id"], f"{_flow(flow)} is {what} to {country}, where no EU adequacy decision covers "
                                      f"this recipient, and {lacking}: the data leaves the GDPR's protection "
                                      "without appropriate safeguards.")


@rule("processor-without-dpa", "error", "GDPR Art. 28(3)",
      "A flow goes to a processor without a data processing agreement (kind dpa).",
      "Sign a data processing agreement (kind `dpa`) with the processor and record it on the flow.")
def processor_without_dpa(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        party = facts.parties.get(flow["to"])
        if not party or party["role"] != "processor":
            continue
        agreement = facts.agreement(flow)
        if agreement and agreement["kind"] == "dpa":
            continue
        under = f"under agreement {agreement['id']} (kind {agreement['kind']})" if agreement else "under no agreement"
        yield Hit("flow", flow["id"], f"{_flow(flow)} sends data to processor {party['id']} {under}, not under a "
                                      "data processing agreement: a processor may only process personal data under "
                                      "a contract that meets Art. 28(3).")


@rule("source-does-not-hold", "warning", "GDPR Art. 5(2), Art. 30(1)(c)",
      "A flow from a system carries a category the system neither declares nor receives (a lineage gap).",
      "Declare the holding on the system (`holds`) or record the flow that brings the data to it.")
def source_does_not_hold(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        if flow["from"] not in facts.systems:
            continue
        missing = [c for c in flow["categories"] if not facts.holds_data_of(flow["from"], c)]
        if missing:
            yield Hit("flow", flow["id"], f"{_flow(flow)} carries {', '.join(missing)}, which {flow['from']} neither "
                                          "declares nor receives: the registry cannot say where the data comes from.")


@rule("holding-without-retention", "warning", "GDPR Art. 5(1)(e), Art. 30(1)(f)",
      "A declared holding has no retention period.",
      "Set `retention` on the declaration (an ISO 8601 duration such as P10Y).")
def holding_without_retention(facts: Facts) -> Iterator[Hit]:
    for system, held in facts.holdings():
        if not held.get("retention"):
            yield Hit("holding", system, f"{_holding(system, held['category'])} has no retention period: data may "
                                         "not be kept longer than necessary, and the Art. 30 record must state when "
                                         "it is erased.", held["category"])


@rule("consent-flow-for-special-category-without-explicit-consent", "error", "GDPR Art. 9(2)(a)",
      "Special-category data flows on consent (gdpr-6-1-a) without explicit consent (gdpr-9-2-a) as the condition.",
      "Obtain and record explicit consent (`condition: gdpr-9-2-a`), or rely on a basis and condition that fit.")
def consent_without_explicit_consent(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        special = facts.carried(flow, "special")
        condition = facts.condition(flow)
        if special and facts.basis(flow) == "gdpr-6-1-a" and condition != "gdpr-9-2-a":
            yield Hit("flow", flow["id"], f"{_flow(flow)} carries special-category data ({', '.join(special)}) on "
                                          f"consent, but its condition is {condition or 'missing'}, not explicit "
                                          "consent (gdpr-9-2-a): consent to special-category data must be explicit.")


def _us_disclosure(facts: Facts, flow: Doc) -> bool:
    """A flow from the US to a nonaffiliated party (a party whose kind is not `affiliate`)."""
    party = facts.parties.get(flow["to"])
    return facts.ends[flow["from"]]["country"] == "US" and party is not None and party["kind"] != "affiliate"


@rule("glba-sharing-without-opt-out", "error", "15 U.S.C. 6802(a)-(b), 6802(e)",
      "Nonpublic personal information goes from the US to a nonaffiliated party without the GLBA opt-out, an "
      "exception, or the consumer's authorisation.",
      "Give the privacy and opt-out notice and record glba-6802-b, record the 6802(e) exception that applies, or "
      "stop the disclosure.", help_uri=GLBA)
def glba_sharing_without_opt_out(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        npi = facts.carried(flow, "npi")
        if npi and _us_disclosure(facts, flow) and not {facts.basis(flow), facts.condition(flow)} & GLBA_ALLOWED:
            yield Hit("flow", flow["id"], f"{_flow(flow)} discloses nonpublic personal information "
                                          f"({', '.join(npi)}) to nonaffiliated {flow['to']} without the opt-out "
                                          "(glba-6802-b), a 6802(e) exception or the consumer's authorisation: GLBA "
                                          "forbids the disclosure unless the consumer was given notice and the "
                                          "chance to opt out.")


@rule("naic-health-without-authorisation", "error", "NAIC Model Regulation #672 Art. V (health information)",
      "Health (special-category) data goes from the US to a nonaffiliated party, not for an insurance function, "
      "without the consumer's authorisation.",
      "Obtain the consumer's signed authorisation and record naic-672-authorisation, or, if the purpose is an "
      "insurance function, mark it `insurance_function: true`.", help_uri=NAIC_672)
def naic_health_without_authorisation(facts: Facts) -> Iterator[Hit]:
    for flow in facts.flows:
        health = facts.carried(flow, "special")
        purpose = facts.purposes.get(flow["purpose"], {})
        if health and _us_disclosure(facts, flow) and not purpose.get("insurance_function") \
                and "naic-672-authorisation" not in (facts.basis(flow), facts.condition(flow)):
            yield Hit("flow", flow["id"], f"{_flow(flow)} discloses health information ({', '.join(health)}) to "
                                          f"nonaffiliated {flow['to']} for {flow['purpose']}, which is not an "
                                          "insurance function, without the consumer's authorisation "
                                          "(naic-672-authorisation).")

"""Findings: what the rules report, and the engine that evaluates them on a registry.

Findings are computed from the registry's documents (`Registry.list`) as of a date, so every
backend gives the same answer. Each names the regime it comes from (`gdpr`, `uk-gdpr`, `glba`,
`naic`); under the UK GDPR the reference reads "UK GDPR Art. …". A finding on a proposed flow
is at most a warning: the plan is reviewed before it goes live. They come sorted: most severe
first, then by rule, entity, category and regime.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from graph.store import today
from registry.compliance.facts import Facts
from registry.compliance.rules import RULES, Hit, Rule, Severity
from registry.compliance.settings import Settings
from registry.errors import InvalidArgument
from registry.service import one_version

SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
"""Most severe first."""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    reference: str
    entity_kind: str
    """`flow`, `holding` (its system is `entity_id`, its category `category`), `agreement` or `system`."""
    entity_id: str
    remedy: str
    category: str | None = None
    subject_count: int | None = None
    """How many data subjects are concerned, for rules that count them; None otherwise."""
    regime: str | None = None
    """The regime the finding comes from: `gdpr`, `uk-gdpr`, `glba` or `naic`."""


def at_least(severity: str | None) -> tuple[Severity, ...]:
    """The severities at or above `severity` (all when None); an unknown one is an `InvalidArgument`."""
    if severity is None:
        return SEVERITIES
    if severity not in SEVERITIES:
        raise InvalidArgument(f"severity: unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}")
    return SEVERITIES[:SEVERITIES.index(severity) + 1]


def all_rules(registry, extra_rules: Iterable[Rule] = ()) -> dict[str, Rule]:
    """The built-in rules, the rule that counts data subjects in the registry's store, and `extra_rules`."""
    from registry.compliance.consent import consent_withdrawn_rule

    return {**RULES, **{r.id: r for r in (consent_withdrawn_rule(registry.store), *extra_rules)}}


def selected_rules(rule: str | None, known: dict[str, Rule]) -> list[Rule]:
    if rule is None:
        return list(known.values())
    if rule not in known:
        raise InvalidArgument(f"rule: unknown rule {rule!r}; expected one of {', '.join(sorted(known))}")
    return [known[rule]]


PROPOSED = (" The flow is proposed: it carries no data yet, so this is a warning to settle before it "
            "goes live.")


def evaluate(facts: Facts, rules: Iterable[Rule]) -> list[Finding]:
    """The rules' findings, most severe first, then by rule, entity, category, regime and message.
    The built-in rules' findings come sorted from `Facts.kept` once sorted for the same rules; the
    few of the other rules are placed among them."""
    rules = list(rules)
    pure = tuple(r for r in rules if RULES.get(r.id) is r)
    ordered = facts.kept.get(("sorted", pure))
    if ordered is None:
        ordered = facts.kept[("sorted", pure)] = sorted((f for r in pure for f in _of(facts, r)), key=_order)
    found = list(ordered)
    for finding in sorted((f for r in rules if RULES.get(r.id) is not r for f in _of(facts, r)), key=_order):
        bisect.insort(found, finding, key=_order)
    return found


def _order(finding: Finding) -> tuple:
    return (SEVERITIES.index(finding.severity), finding.rule, finding.entity_kind, finding.entity_id,
            finding.category or "", finding.regime or "", finding.message)


def _of(facts: Facts, rule: Rule) -> list[Finding]:
    """The findings of one rule. A built-in rule (the very one in `RULES`) is a function of the facts
    alone, so its findings are kept with them (`Facts.kept`) for the next question on the same
    facts; other rules (the data-subject rule, `extra_rules`) read more than the facts and run each
    time, and a finding equal to one they made before on the same facts is that one."""
    pure = RULES.get(rule.id) is rule
    if pure and (kept := facts.kept.get(("findings", rule))) is not None:
        return kept
    found = [_finding(rule, hit, hit.entity_kind == "flow" and hit.entity_id in facts.proposed)
             for hit in rule.check(facts)]
    if pure:
        facts.kept[("findings", rule)] = found
    elif len(found) <= _MADE_AT_MOST:  # the same finding as before is the same object: the same page again
        made = facts.kept.setdefault(_MADE, {})
        if len(made) + len(found) > _MADE_AT_MOST:
            made.clear()
        found = [made.setdefault(finding, finding) for finding in found]
    return found


_MADE = "findings of other rules"
"""`Facts.kept`'s: the findings other rules made on these facts, each by itself (equal is the same)."""
_MADE_AT_MOST = 10_000
"""Findings kept in `_MADE` at most (the rules' answers change as subjects' data does)."""


def _finding(rule: Rule, hit: Hit, proposed: bool) -> Finding:
    severity = "warning" if proposed and rule.severity == "error" else rule.severity
    reference = rule.reference
    if hit.regime == "uk-gdpr" and reference.startswith("GDPR"):
        reference = "UK " + reference
    return _new(rule=rule.id, severity=severity, message=hit.message + (PROPOSED if proposed else ""),
                reference=reference, entity_kind=hit.entity_kind, entity_id=hit.entity_id, remedy=rule.remedy,
                category=hit.category, subject_count=hit.subject_count, regime=hit.regime)


def _new(**fields) -> Finding:
    """`Finding(**fields)` with every field given, without the frozen dataclass's `__init__`, which
    sets each field through `object.__setattr__` and costs five times as much (a large registry
    has tens of thousands of findings). The instance is the same: frozen, equal, hashable."""
    finding = object.__new__(Finding)
    finding.__dict__.update(fields)
    return finding


@one_version
def findings(registry, *, as_of: date | None = None, severity: str | None = None, rule: str | None = None,
             settings: Settings | None = None, extra_rules: Iterable[Rule] = ()) -> list[Finding]:
    """Every finding on `registry` as of `as_of` (default today, UTC), at or above `severity`,
    optionally of one `rule`. `extra_rules` run alongside the built-in ones: rules that need more
    than the registry's documents (data subjects) close over what they need."""
    wanted = at_least(severity)
    rules = [r for r in selected_rules(rule, all_rules(registry, extra_rules)) if r.severity in wanted]
    facts = Facts.of(registry, as_of or today(), (settings or Settings.packaged()).countries)
    return [f for f in evaluate(facts, rules) if f.severity in wanted]

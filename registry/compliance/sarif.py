"""Findings as a SARIF 2.1.0 log, for code-scanning dashboards and CI annotations.

Every rule appears in the tool's driver with its legal reference (`fullDescription`) and a link
to the legal text (`helpUri`); every finding is a result with its rule, level, message and a
logical location naming the entity kind and id (`flow/claims-to-coral`, `holding/claims/health`),
and the regime it comes from in its properties (`regime`: `gdpr`, `uk-gdpr`, `glba`, `naic`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry.compliance.findings import Finding
from registry.compliance.rules import Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def sarif_log(findings: list[Finding], rules: Iterable[Rule], *, version: str) -> dict[str, Any]:
    rules = list(rules)
    index = {rule.id: i for i, rule in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dsa-registry", "version": version,
                "rules": [_descriptor(rule) for rule in rules]}},
            "results": [_result(finding, index[finding.rule]) for finding in findings],
        }],
    }


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.reference}: {rule.summary}"},
        "help": {"text": rule.remedy},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"reference": rule.reference, "regimes": list(rule.regimes)},
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    name = finding.entity_id if finding.category is None else f"{finding.entity_id}/{finding.category}"
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message} Remedy: {finding.remedy}"},
        "locations": [{"logicalLocations": [{
            "name": name, "fullyQualifiedName": f"{finding.entity_kind}/{name}", "kind": finding.entity_kind}]}],
        "properties": {"reference": finding.reference, "regime": finding.regime, "entityKind": finding.entity_kind,
                       "entityId": finding.entity_id, **({"category": finding.category} if finding.category else {})},
    }

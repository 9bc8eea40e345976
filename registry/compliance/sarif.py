"""Findings as a SARIF 2.1.0 log, for code-scanning dashboards (GitHub code scanning) and CI annotations.

Every rule appears in the tool's driver with its legal reference (`fullDescription`,
`properties.reference`), the regimes it belongs to (`properties.regimes`), a link to the legal
text (`helpUri`) and help (what it checks, the reference, the remedy) as text and Markdown. Every
finding is a result with its rule, level, message, the regime it comes from (`properties.regime`:
`gdpr`, `uk-gdpr`, `glba`, `naic`), a logical location naming the entity kind and id
(`flow/claims-to-coral`, `holding/claims/health`) and, when `locate` places it in a file, a
physical location: the file's URI relative to the repository root (`artifact_uri`) and the line
and column where the entity is defined. `partialFingerprints` identify a finding by its rule,
regime, entity and category, never by its line or message, so it keeps its identity when lines
move or a count in its message changes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from registry.bounds import visible
from registry.compliance.findings import Finding
from registry.compliance.rules import Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}
FINGERPRINT = "dsaRegistryFinding/v1"


class FileLocation(NamedTuple):
    uri: str
    """Relative to the repository root (`artifact_uri`), or an absolute `file://` URI."""
    line: int
    column: int


def artifact_uri(path: Path, cwd: Path | None = None) -> str:
    """`path` as a URI relative to the repository root, as code scanning expects: the nearest
    enclosing directory with a `.git` (the work tree's top level, as `git rev-parse --show-toplevel`
    gives it), else the working directory; an absolute `file://` URI when `path` is outside both."""
    path = path.resolve()
    root = next((folder for folder in path.parents if (folder / ".git").exists()), None) or (cwd or Path.cwd()).resolve()
    try:
        return quote(path.relative_to(root).as_posix())
    except ValueError:
        return path.as_uri()


def sarif_log(findings: list[Finding], rules: Iterable[Rule], *, version: str,
              locate: Callable[[Finding], FileLocation | None] | None = None) -> dict[str, Any]:
    rules = list(rules)
    index = {rule.id: i for i, rule in enumerate(rules)}
    occurrences: Counter[str] = Counter()
    results = []
    for finding in findings:
        identity = _identity(finding)
        occurrences[identity] += 1
        results.append(_result(finding, index[finding.rule], f"{identity}:{occurrences[identity]}",
                               locate(finding) if locate else None))
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "dsa-registry", "version": version, "semanticVersion": version,
                "rules": [_descriptor(rule) for rule in rules]}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def _descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.title() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.reference}: {rule.summary}"},
        "help": {"text": f"{rule.summary}\n\nLegal reference: {rule.reference} ({rule.help_uri})\n\n"
                         f"Remedy: {rule.remedy}",
                 "markdown": f"{rule.summary}\n\n**Legal reference:** [{rule.reference}]({rule.help_uri})\n\n"
                             f"**Remedy:** {rule.remedy}"},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"reference": rule.reference, "regimes": list(rule.regimes), "tags": ["privacy", "compliance"]},
    }


def _identity(finding: Finding) -> str:
    """What makes a finding the same finding across runs: rule, entity kind, entity id, category."""
    key = "\x1f".join((finding.rule, finding.entity_kind, finding.entity_id, finding.category or ""))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _result(finding: Finding, rule_index: int, fingerprint: str, place: FileLocation | None) -> dict[str, Any]:
    name = finding.entity_id if finding.category is None else f"{finding.entity_id}/{finding.category}"
    location: dict[str, Any] = {}
    if place is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": place.uri},
                                        "region": {"startLine": place.line, "startColumn": place.column}}
    location["logicalLocations"] = [{  # shown to people: control and format characters escaped
        "name": visible(name), "fullyQualifiedName": visible(f"{finding.entity_kind}/{name}"),
        "kind": finding.entity_kind}]
    return {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": visible(f"{finding.message} Remedy: {finding.remedy}")},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint, "primaryLocationLineHash": fingerprint},
        "properties": {"reference": finding.reference, "regime": finding.regime, "entityKind": finding.entity_kind,
                       "entityId": finding.entity_id, **({"category": finding.category} if finding.category else {})},
    }

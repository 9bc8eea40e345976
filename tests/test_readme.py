"""The README's examples stay true: its bundle loads, and its demo answer is what the registry says."""

import json
import re
from datetime import date
from pathlib import Path

from registry.cli import DEMO

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_the_bundle_example_loads_and_means_what_it_says(registry):
    [bundle] = [b for b in blocks("yaml") if "flows:" in b]
    result = registry.load([("README.md", bundle)], actor="test")
    assert result.created == 14
    [to_coral] = [v.holding for v in registry.holders("health") if v.holding.holder == "coral-re"]
    assert (to_coral.flow, to_coral.category, to_coral.agreement) == ("claims-to-coral", "health.diagnosis",
                                                                      "treaty-coral-xl-2025")


def test_the_health_data_example_shows_real_output(registry):
    registry.load([("demo", DEMO.read_text())], actor="test")
    [shown] = [json.loads(b) for b in blocks("json") if b.startswith("[")]
    holders = registry.holders("health.diagnosis", as_of=date(2026, 11, 25))
    assert len(holders) == 22
    for example in shown:
        flow = example["flow"]["id"] if example["flow"] else None
        [view] = [v for v in holders if v.holding.holder == example["holder"]["id"] and v.holding.flow == flow]
        h = view.holding
        assert (h.category, list(h.purposes), h.legal_basis, h.condition, h.agreement, list(h.path)) == (
            example["category"]["id"], [p["id"] for p in example["purposes"]], example["legalBasis"]["id"],
            example["condition"]["id"], example["agreement"] and example["agreement"]["id"], example["path"])
        assert (h.legal_basis_source.upper(), h.condition_source.upper()) == (
            example["legalBasisSource"], example["conditionSource"])
        assert view.entity(h.holder).doc["name"] == example["holder"]["name"]


def test_the_subject_file_examples_load_and_agree(registry, tmp_path):
    from registry.auth.roles import Principal
    from registry.subjects.service import SubjectService
    from registry.subjects.keys import KeyHasher

    registry.load([("demo", DEMO.read_text())], actor="test")
    service = SubjectService(registry, KeyHasher(b"secret"))
    [line] = [b for b in blocks("json") if b.startswith('{"id"')]
    [table] = blocks("csv")
    (tmp_path / "a.jsonl").write_text(line)
    (tmp_path / "b.csv").write_text(table)
    admin = Principal.of("test", "admin")
    service.load(tmp_path / "a.jsonl", principal=admin)
    from_json = registry.store.subject("C-1")
    service.load(tmp_path / "b.csv", principal=admin)
    assert registry.store.subject("C-1") == from_json
    assert service.report(principal=admin, email="C1@example.org").sources == [
        ("hanse-makler", "claims", ("claims-history",))]


def test_the_example_customer_on_the_demo_has_the_recipients_the_readme_lists(registry):
    from registry.auth.roles import Principal
    from registry.subjects.demo import load_demo_subjects
    from registry.subjects.keys import KeyHasher
    from registry.subjects.service import SubjectService

    registry.load([("demo", DEMO.read_text())], actor="test")
    service = SubjectService(registry, KeyHasher(None))
    dpo = Principal.of("test", "dpo")
    assert load_demo_subjects(service, dpo) == 6
    report = service.report(principal=dpo, subject="C-1", as_of=date(2026, 11, 25))
    [shown] = [b for b in re.findall(r"```\n(\$ dsa-registry dsar C-1.*?)```", README, re.S)]
    listed = re.split(r"^\$ .*\n", shown, flags=re.M)[1:]
    names = lambda recipients: sorted({report.entities[r.party].doc["name"] for r in recipients})  # noqa: E731
    assert [block.splitlines() for block in listed] == [names(report.recipients), names(report.potential_recipients)]
    assert (len(report.holdings), len({h.system for h in report.holdings}), len(report.recipients)) == (37, 16, 14)
    us_book = {"ct-insurance-dept", "vitalpath"}  # the US state insurance department, the US wellness partner
    assert not {r.party for r in report.recipients} & ({"lka-nrw"} | us_book)
    assert "lka-nrw" in {r.party for r in report.potential_recipients}

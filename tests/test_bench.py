"""The benchmark harness (`python -m bench`) runs end to end at a tiny scale and writes records
of the documented shape, so that it cannot rot. Timings are not checked: benchmarks assert
nothing about time."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from bench.__main__ import main
from bench.synthetic import AS_OF, FEATURES, SCALES, synthetic_bundle, write_subjects
from registry.auth.roles import Principal
from registry.subjects.keys import KeyHasher
from registry.subjects.service import SubjectService

KEYS = {"question", "backend", "layer", "p50_ms", "p95_ms", "p99_ms", "items", "rss_mb"}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "records.json"
    result = CliRunner().invoke(main, ["--scale", "tiny", "--subjects", "300", "--backends", "embedded", "--runs", "2",
                                       "--seconds", "1", "--throughput-seconds", "0.2", "--quiet", "--json", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_every_question_is_asked_through_every_layer(records):
    found, _ = records
    latency = {(r["question"], r["layer"]) for r in found if "clients" not in r}
    for question in ("holders", "holders-page", "holdings", "lineage-depth-3", "lineage", "lineage-whole", "dsar", "dsar-email",
                     "findings", "breach"):
        assert {(question, layer) for layer in ("direct", "execute", "http")} <= latency, question
    assert {("import", "direct"), ("subject-load", "direct")} <= latency


def test_records_have_the_documented_keys_and_sane_values(records):
    found, _ = records
    for entry in found:
        assert KEYS <= entry.keys(), entry
        assert entry["backend"] == "embedded"
        assert 0 <= entry["p50_ms"] <= entry["p95_ms"] <= entry["p99_ms"], entry
        assert entry["items"] >= 0 and entry["rss_mb"] > 0
    loads = {r["question"]: r for r in found if r["question"] in ("import", "subject-load")}
    assert loads["subject-load"]["items"] == 300
    assert loads["import"]["items"] == sum(len(v) for v in synthetic_bundle(SCALES["tiny"]).values())


def test_the_layers_give_answers_of_the_same_size(records):
    found, _ = records
    sizes: dict[str, set[int]] = {}
    for entry in found:
        if "clients" not in entry and entry["question"] not in ("import", "subject-load", "dsar", "dsar-email"):
            sizes.setdefault(entry["question"], set()).add(entry["items"])
    assert all(len(s) == 1 for s in sizes.values()), sizes
    assert sizes["holders"] and next(iter(sizes["holders"])) > 0


def test_throughput_is_measured_with_1_4_and_16_clients(records):
    found, _ = records
    rates = {(r["question"], r["clients"]) for r in found if "clients" in r}
    assert rates == {(q, n) for q in ("holders-page", "dsar") for n in (1, 4, 16)}
    assert all(r["requests_per_s"] > 0 and r["layer"] == "http" for r in found if "clients" in r)


def test_the_markdown_table_names_every_question(records):
    _, output = records
    assert "| question | backend | items | HTTP | execute | direct | Cypher |" in output
    assert "| breach | embedded |" in output
    assert "Skipped lineage-export" in output or "| lineage-export | embedded |" in output


def test_the_synthetic_group_is_deterministic_and_loads_on_the_current_model(registry):
    bundle = synthetic_bundle(SCALES["tiny"])
    assert bundle == synthetic_bundle(SCALES["tiny"])
    result = registry.load_data(bundle, source="synthetic", actor="test", replace=True)
    assert result.created == sum(len(section) for section in bundle.values())


def test_features_add_fields_without_changing_the_rest():
    plain = synthetic_bundle(SCALES["tiny"])
    featured = synthetic_bundle(SCALES["tiny"], features=list(FEATURES))
    assert [f["id"] for f in featured["flows"]] == [f["id"] for f in plain["flows"]]
    assert any(p.get("parent") == "claims-handling" for p in featured["purposes"])
    assert not any("parent" in p for p in plain["purposes"])


def test_every_feature_loads_on_the_model_with_its_subjects(registry, tmp_path):
    """Case flows with disclosures, expiring consents and records that ended: the DSAR's and
    findings' costly cases, which `--features` switches on for the figures."""
    bundle = synthetic_bundle(SCALES["tiny"], features=list(FEATURES))
    registry.load_data(bundle, source="synthetic", actor="test", replace=True)
    path = tmp_path / "subjects.jsonl"
    records = write_subjects(path, bundle, 2000, features=list(FEATURES))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert (len(lines), records) == (2000, sum(len(s["records"]) for s in lines))
    assert sum("disclosures" in s for s in lines) > 0 and sum("expires" in c for s in lines for c in s.get("consents", [])) > 0
    assert sum("until" in r for s in lines for r in s["records"]) > 0
    assert any(h.get("retention_from") == "collection" for s in bundle["systems"] for h in s["holds"])
    service = SubjectService(registry, KeyHasher(b"bench-secret-bench-secret-bench-secret"))
    assert service.load(path, principal=Principal.of("bench", "admin")) == 2000
    expired = next(s["id"] for s in lines if any(c.get("expires", "9") < AS_OF for c in s.get("consents", [])))
    report = service.report(principal=Principal.of("bench", "dpo"), subject=expired, as_of=date.fromisoformat(AS_OF))
    assert [state.status for state in report.consents.values()] == ["expired"]


def test_unknown_backends_and_questions_are_one_line_errors():
    result = CliRunner().invoke(main, ["--backends", "embedded,mysql"])
    assert result.exit_code == 2 and "unknown backend mysql; known: embedded, neo4j, falkordb" in result.output
    result = CliRunner().invoke(main, ["--questions", "holders,who"])
    assert result.exit_code == 2 and "unknown question who" in result.output


def test_the_after_write_bench_asks_each_question_after_each_change_and_prints_every_row():
    from bench import after_write

    result = CliRunner().invoke(after_write.main, ["--scale", "tiny", "--subjects", "200", "--rounds", "2"])
    assert result.exit_code == 0, result.output
    rows = [line.split(" | ")[0].lstrip("| ") for line in result.output.splitlines() if line.startswith("| ")][1:]
    assert rows == [*(f"{q}, the first in the process" for q in after_write.ASKED), "rename (the write)",
                    *(f"{q}, {when}" for q in after_write.ASKED for when in ("first after the change", "again"))]
    assert "tiny with 200 subjects, embedded (2 changes per question)" in result.output

"""Subjects from the command line: loading files, DSAR documents, consents, erasure plans."""

import json

import pytest

from tests.subject_graphs import SUBJECT, bundles
from tests.test_cli import cli


@pytest.fixture
def workdir(tmp_path):
    for name, text in bundles():
        (tmp_path / name).write_text(text)
    assert cli("load", "extra.yaml", "lineage.yaml", cwd=tmp_path).returncode == 0
    hostile = {**SUBJECT, "id": "C-<script>", "records": [{"system": "crm"}], "keys": {}}
    (tmp_path / "subjects.jsonl").write_text(json.dumps(SUBJECT) + "\n" + json.dumps(hostile) + "\n")
    return tmp_path


ENV = {"DSA_REGISTRY_HMAC_KEY": "test-secret-test-secret-test-secret", "DSA_REGISTRY_CONTROLLER": "Aurora Mutual"}


def test_load_then_report_as_json_by_email(workdir):
    loaded = cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    assert (loaded.returncode, loaded.stdout) == (0, "subjects.jsonl: 2 subjects\n")
    report = json.loads(cli("dsar", "--email", "c1@example.org", cwd=workdir, env=ENV).stdout)
    assert report["subject"]["id"] == "C-1"
    assert [(r["party"]["id"], r["path"]) for r in report["recipients"]] == [("re", ["f1", "f2"]), ("re", ["f3"])]
    assert report["suspendedFlows"] == [{"id": "m1", "purpose": "marketing", "categories": ["contact"]},
                                        {"id": "w1", "purpose": "wellness", "categories": ["health.diagnosis"]}]


def test_html_and_markdown_documents_name_things_and_escape_personal_data(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    html = cli("dsar", "C-1", "--format", "html", cwd=workdir, env=ENV).stdout
    assert "<title>Access request: C-1</title>" in html and "prepared by Aurora Mutual" in html
    assert "<td>Reinsurer (reinsurer)</td><td>US</td>" in html
    assert "GDPR Art. 9(2)(f)" in html and "transfer safeguard: scc" in html and "@media print" in html
    assert "Campaign audiences (Marketing): Contact details not shared" in html
    hostile = cli("dsar", "C-<script>", "--format", "html", cwd=workdir, env=ENV).stdout
    assert "C-&lt;script&gt;" in hostile and "<script>" not in hostile
    markdown = cli("dsar", "C-1", "--format", "markdown", "-o", "c1.md", cwd=workdir, env=ENV)
    text = (workdir / "c1.md").read_text()
    assert markdown.returncode == 0 and text.startswith("# Your personal data: access request")
    assert "| Claims | Diagnoses | Claims handling | gdpr-6-1-b, gdpr-9-2-f | P10Y | Broker |" in text


def test_consent_and_erasure_plan_commands(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    granted = cli("consent", "C-1", "marketing", "granted", "--at", "2026-01-01T10:00:00+0100", "--channel", "phone",
                  cwd=workdir, env=ENV)
    assert json.loads(granted.stdout) == {"at": "2026-01-01T09:00:00+00:00", "purpose": "marketing",
                                          "status": "granted", "channel": "phone"}
    report = json.loads(cli("dsar", "C-1", cwd=workdir, env=ENV).stdout)
    assert [f["id"] for f in report["suspendedFlows"]] == ["w1"]
    plan = json.loads(cli("erasure-plan", "C-1", "--today", "2026-11-25", cwd=workdir, env=ENV).stdout)
    assert plan["keep"] == [{"system": "claims", "category": "health.diagnosis", "until": "2034-06-01",
                             "reason": "Art. 17(3)(e): establishment, exercise or defence of legal claims, "
                                       "retention P10Y from 2024-06-01"}]
    assert [n["party"] for n in plan["notify"]] == ["adco", "re", "re"]


def test_bad_subject_files_exit_2_and_apply_nothing(workdir):
    (workdir / "bad.csv").write_text("id,kind,system\nC-3,claimant,nowhere\n")
    result = cli("subjects", "load", "bad.csv", cwd=workdir, env=ENV)
    assert result.returncode == 2
    assert result.stderr == ("error: nothing was changed; 1 problem(s):\n"
                             "  bad.csv:2: subject 'C-3': records[0].system: unknown system 'nowhere'\n")
    missing = cli("dsar", "C-3", cwd=workdir, env=ENV)
    assert (missing.returncode, missing.stderr) == (2, "error: unknown subject 'C-3'\n")


def test_without_the_subject_data_role_the_cli_refuses(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    result = cli("dsar", "C-1", "--format", "html", cwd=workdir, env={**ENV, "DSA_REGISTRY_ROLES": "viewer"})
    assert result.returncode == 2 and "lacks the 'subject-data:read' permission" in result.stderr


def test_keys_without_a_configured_secret_are_refused(workdir):
    result = cli("subjects", "load", "subjects.jsonl", cwd=workdir)
    assert result.returncode == 2
    assert "subjects.jsonl:1: subject 'C-1': keys: lookup keys need a secret: set DSA_REGISTRY_HMAC_KEY" in result.stderr

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
    assert [(r["party"]["id"], r["path"]) for r in report["recipients"]] == [
        ("adco", ["m1"]), ("re", ["f1", "f2"]), ("re", ["f3"])]
    assert report["suspendedFlows"] == [
        {"id": "m1", "purpose": "marketing", "categories": ["contact"], "expired": False},
        {"id": "w1", "purpose": "wellness", "categories": ["health.diagnosis"], "expired": False}]


def test_load_checked_by_worker_processes_from_the_command_line(workdir):
    loaded = cli("subjects", "load", "--workers", "2", "subjects.jsonl", cwd=workdir, env=ENV)
    assert (loaded.returncode, loaded.stdout) == (0, "subjects.jsonl: 2 subjects\n")
    assert json.loads(cli("dsar", "--email", "c1@example.org", cwd=workdir, env=ENV).stdout)["subject"]["id"] == "C-1"
    refused = cli("subjects", "load", "--workers", "99", "subjects.jsonl", cwd=workdir, env=ENV)
    assert refused.returncode == 2 and "--workers" in refused.stderr and "99" in refused.stderr


def test_html_and_markdown_documents_name_things_and_escape_personal_data(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    html = cli("dsar", "C-1", "--format", "html", cwd=workdir, env=ENV).stdout
    assert "<title>Your personal data: our answer to your access request: C-1</title>" in html
    assert "Controller: Aurora Mutual<br>" in html
    assert "<td>Reinsurer</td><td>reinsurer</td><td>United States</td>" in html
    assert "Legal claims (GDPR Art. 9(2)(f))" in html and "@media print" in html
    assert "the standard data protection clauses adopted by the European Commission (GDPR Art. 46(2)(c))" in html
    assert ("Campaign audiences (Marketing): Contact details not shared, because you withdrew your consent on "
            "May 1, 2025") in html
    hostile = cli("dsar", "C-<script>", "--format", "html", cwd=workdir, env=ENV).stdout
    assert "C-&lt;script&gt;" in hostile and "<script>" not in hostile
    markdown = cli("dsar", "C-1", "--format", "markdown", "-o", "c1.md", cwd=workdir, env=ENV)
    text = (workdir / "c1.md").read_text()
    assert markdown.returncode == 0 and text.startswith("# Your personal data: our answer to your access request")
    assert ("| Claims | Diagnoses | Claims handling | Contract (GDPR Art. 6(1)(b)); Legal claims (GDPR Art. 9(2)(f)) | "
            "10 years after our relationship with you ends | Broker |") in text
    german = cli("dsar", "C-1", "--format", "markdown", "--lang", "de", cwd=workdir, env=ENV).stdout
    assert german.startswith("# Ihre personenbezogenen Daten: unsere Antwort auf Ihr Auskunftsersuchen")


def test_a_document_without_a_configured_controller_is_one_line(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    result = cli("dsar", "C-1", "--format", "html", cwd=workdir, env={**ENV, "DSA_REGISTRY_CONTROLLER": ""})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("error: DSA_REGISTRY_CONTROLLER is not set: a DSAR document must name the controller; "
                             "set it to the controller's name and contact details\n")
    french = cli("dsar", "C-1", "--format", "html", "--lang", "fr", cwd=workdir, env=ENV)
    assert (french.returncode, french.stderr) == (
        2, "error: lang: 'fr' is not supported; use en or de, optionally with a region (en-GB, de-AT)\n")


def test_disclose_list_export_and_erase(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    disclosed = cli("disclose", "C-1", "fraud", "--at", "2026-02-01", "--reference", "LKA-7", cwd=workdir, env=ENV)
    assert json.loads(disclosed.stdout) == {"flow": "fraud", "at": "2026-02-01T00:00:00+00:00", "reference": "LKA-7"}
    refused = cli("disclose", "C-1", "f2", cwd=workdir, env=ENV)
    assert refused.returncode == 2 and "flow 'f2' has scope all" in refused.stderr
    future = cli("disclose", "C-1", "fraud", "--at", "2099-01-01", cwd=workdir, env=ENV)
    assert (future.returncode, future.stderr) == (
        2, "error: at: 2099-01-01T00:00:00+00:00 is in the future: record an event once it has happened\n")
    report = json.loads(cli("dsar", "C-1", cwd=workdir, env=ENV).stdout)
    assert ("police", "fraud") in [(r["party"]["id"], r["flow"]) for r in report["recipients"]]
    assert report["disclosures"][0]["reference"] == "LKA-7"
    listed = cli("subjects", "list", "--limit", "1", cwd=workdir, env=ENV)
    assert (listed.stdout, listed.stderr) == ("C-1\tpolicyholder\tcrm, claims\n", "(more: --after C-1)\n")
    exported = cli("subjects", "export", "C-1", "-o", "c1.jsonl", cwd=workdir, env=ENV)
    [line] = (workdir / "c1.jsonl").read_text().splitlines()
    assert exported.returncode == 0 and json.loads(line)["disclosures"][0]["flow"] == "fraud"
    assert "keys" not in json.loads(line) and oct((workdir / "c1.jsonl").stat().st_mode & 0o777) == "0o600"
    erased = cli("subjects", "erase", "C-<script>", "--today", "2026-11-25", cwd=workdir, env=ENV)
    assert erased.stdout == ("C-<script>: erased (records in crm, 2 consent event(s), 0 lookup key(s), 0 disclosure(s), "
                             "1 audit entry document(s); their seals stay in the audit log)\n")
    trail = [json.loads(line) for line in cli("audit", "--entity", "C-<script>", cwd=workdir, env=ENV).stdout.splitlines()]
    assert [(e["action"], e["after"], e["salt"], e["erased"], len(e["seal"])) for e in trail[:-1]] == [
        ("read", None, None, True, 64)]  # the erasure plan's read: what was read is gone with the subject
    assert (trail[-1]["action"], "seal" in trail[-1], trail[-1]["after"]["audit_documents"]) == ("erase", False, 1)
    assert cli("audit", "verify", cwd=workdir, env=ENV).stdout.startswith("audit log intact: ")
    kept = cli("subjects", "erase", "C-1", "--today", "2026-11-25", cwd=workdir, env=ENV)
    assert kept.stdout == ("C-1: records removed from crm; kept in claims (Art. 17(3)) until their retention has run\n")
    assert cli("subjects", "list", cwd=workdir, env=ENV).stdout == "C-1\tpolicyholder\tclaims\n"


def test_consent_and_erasure_plan_commands(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    granted = cli("consent", "C-1", "marketing", "granted", "--at", "2026-01-01T10:00:00+0100", "--channel", "phone",
                  cwd=workdir, env=ENV)
    assert json.loads(granted.stdout) == {"at": "2026-01-01T09:00:00+00:00", "purpose": "marketing",
                                          "status": "granted", "channel": "phone"}
    report = json.loads(cli("dsar", "C-1", cwd=workdir, env=ENV).stdout)
    assert [f["id"] for f in report["suspendedFlows"]] == ["w1"]
    expiring = cli("consent", "C-1", "wellness", "granted", "--at", "2026-01-01", "--expires", "2026-07-01",
                   cwd=workdir, env=ENV)
    assert json.loads(expiring.stdout)["expires"] == "2026-07-01T00:00:00+00:00"
    plan = json.loads(cli("erasure-plan", "C-1", "--today", "2026-11-25", cwd=workdir, env=ENV).stdout)
    assert plan["keep"] == [{"system": "claims", "category": "health.diagnosis", "until": None,
                             "reason": "Art. 17(3)(e): establishment, exercise or defence of legal claims, "
                                       "until 10 years after the relationship ends (it has not ended yet: no date)"}]
    # vitality got the diagnoses while the wellness consent stood (2026-01-01 to 2026-07-01)
    assert [n["party"] for n in plan["notify"]] == ["adco", "re", "re", "vitality"]


def test_bad_subject_files_exit_2_and_apply_nothing(workdir):
    (workdir / "bad.csv").write_text("id,kind,system\nC-3,claimant,nowhere\n")
    result = cli("subjects", "load", "bad.csv", cwd=workdir, env=ENV)
    assert result.returncode == 2
    assert result.stderr == ("error: nothing was changed; 1 problem(s):\n"
                             "  bad.csv:2: subject 'C-3': records[0].system: unknown system 'nowhere'\n")
    missing = cli("dsar", "C-3", cwd=workdir, env=ENV)
    assert (missing.returncode, missing.stderr) == (2, "error: subject: unknown subject 'C-3'\n")


def test_without_the_subject_data_role_the_cli_refuses(workdir):
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    result = cli("dsar", "C-1", "--format", "html", cwd=workdir, env={**ENV, "DSA_REGISTRY_ROLES": "viewer"})
    assert result.returncode == 2 and "lacks the 'subject-data:read' permission" in result.stderr


def test_keys_without_a_configured_secret_are_refused(workdir):
    result = cli("subjects", "load", "subjects.jsonl", cwd=workdir)
    assert result.returncode == 2
    assert "subjects.jsonl:1: subject 'C-1': keys: lookup keys need a secret: set DSA_REGISTRY_HMAC_KEY" in result.stderr


def test_pending_loads_are_listed_and_one_whose_file_is_gone_can_be_abandoned(workdir):
    """A load killed half-way keeps erasure refused until its file is loaded again; where that file
    is gone, `subjects abandon-load` forgets it (audited) and erasure goes on."""
    from graph.embedded import EmbeddedStore
    from graph.subjects import SUBJECT_BATCH, SubjectRow

    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    store = EmbeddedStore(workdir / "registry.db")
    rows = (SubjectRow(f"B-{i:06d}", "insured", [{"system": "crm"}], [], []) for i in range(SUBJECT_BATCH + 1))

    def killed(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.write_subjects(rows, actor="bulk", source="nightly.jsonl", progress=killed)
    store.close()
    [started] = [e["at"] for e in map(json.loads, cli("audit", "--entity", "nightly.jsonl", cwd=workdir,
                                                          env=ENV).stdout.splitlines())]
    assert cli("subjects", "pending", cwd=workdir, env=ENV).stdout == f"nightly.jsonl\t10000 of 10001\t{started}\tbulk\n"
    refused = cli("subjects", "erase", "C-<script>", cwd=workdir, env=ENV)
    assert refused.returncode == 2 and "while a subject load is pending: the load of nightly.jsonl" in refused.stderr
    unknown = cli("subjects", "abandon-load", "daily.jsonl", cwd=workdir, env=ENV)
    assert (unknown.returncode, unknown.stderr) == (
        2, "error: source: no load of 'daily.jsonl' is pending (pending: nightly.jsonl)\n")
    abandoned = cli("subjects", "abandon-load", "nightly.jsonl", cwd=workdir, env=ENV)
    assert abandoned.stdout == "nightly.jsonl: 1 pending load(s) abandoned; the subjects they applied stay\n"
    assert cli("subjects", "pending", cwd=workdir, env=ENV).stdout == ""
    trail = [json.loads(line) for line in cli("audit", "--entity", "nightly.jsonl", cwd=workdir, env=ENV).stdout.splitlines()]
    assert [(e["action"], e["after"]) for e in trail] == [("load", {"subjects": 10001, "state": "started"}),
                                                         ("abandon", {"loads": 1})]
    assert trail[1]["actor"].startswith("os:")  # the one who ran the command
    assert cli("subjects", "erase", "C-<script>", cwd=workdir, env=ENV).returncode == 0

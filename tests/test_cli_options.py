"""Command-line conventions people expect of a click tool: `--version`, whole first sentences in
the command list, `query -` and `query @FILE`, dates or date-times wherever a time is asked,
`erasure-plan --format text|json|html`."""

import json
import re
from importlib.metadata import version

from tests.test_cli import cli
from tests.test_dsar_cli import ENV, workdir  # noqa: F401  (a fixture)


def test_version(tmp_path):
    for flag in ("--version", "-V"):
        result = cli(flag, cwd=tmp_path)
        assert (result.returncode, result.stdout) == (0, f"dsa-registry {version('dsa-registry')}\n")


def test_the_command_list_shows_whole_first_sentences(tmp_path):
    listing = cli("--help", cwd=tmp_path).stdout.split("Commands:\n")[1]
    entries = dict(re.findall(r"^  (\S+)\s+(.*?)(?=^  \S|\Z)", listing, flags=re.M | re.S))
    entries = {name: " ".join(text.split()) for name, text in entries.items()}
    assert entries["dsar"] == ("The GDPR Art. 15 report for SUBJECT (or --email): data held and why, recipients (and "
                               "who may receive it in specific cases), disclosures, sources, retention, consents, "
                               "suspended flows, automated decisions and rights.")
    assert entries["breach"].endswith("(GDPR Art. 33-34, NAIC Model #668 §6).")
    assert all(text.endswith(".") and "..." not in text for text in entries.values()), entries
    subjects = cli("subjects", "--help", cwd=tmp_path).stdout
    assert "each file is validated whole before anything is applied (exit code 2 with the problems, per line)." in " ".join(subjects.split())


def test_query_reads_standard_input_or_a_file(tmp_path):
    assert cli("demo", cwd=tmp_path).returncode == 0
    (tmp_path / "q.graphql").write_text('query ($id: ID!) { node(id: $id) { id } }')
    (tmp_path / "v.json").write_text('{"id": "claims"}')
    expected = {"data": {"node": {"id": "claims"}}}
    from_stdin = cli("query", "-", "--variables", "@v.json", cwd=tmp_path, input="{ node(id: \"claims\") { id } }")
    assert (from_stdin.returncode, json.loads(from_stdin.stdout)) == (0, expected)
    from_file = cli("query", "@q.graphql", "--variables", '{"id": "claims"}', cwd=tmp_path)
    assert (from_file.returncode, json.loads(from_file.stdout)) == (0, expected)
    missing = cli("query", "@nowhere.graphql", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read nowhere.graphql: No such file or directory" in missing.stderr


def test_times_take_a_date_or_a_date_time_with_its_offset(workdir):  # noqa: F811
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    for given, stored in [("2025-05-02", "2025-05-02T00:00:00+00:00"), ("2025-05-03T09:00:00Z", "2025-05-03T09:00:00+00:00"),
                          ("2025-05-04T10:00:00+02:00", "2025-05-04T08:00:00+00:00")]:
        result = cli("consent", "C-1", "marketing", "granted", "--at", given, cwd=workdir, env=ENV)
        assert (result.returncode, json.loads(result.stdout)["at"]) == (0, stored)
    for bad, reason in [("2025-05-04T10:00:00", "has no UTC offset"), ("4 May 2025", "is not a date")]:
        result = cli("consent", "C-1", "marketing", "granted", "--at", bad, cwd=workdir, env=ENV)
        assert result.returncode == 2 and "--at" in result.stderr and reason in result.stderr
    breach = json.loads(cli("breach", "--system", "claims", "--detected-at", "2026-11-25", "--format", "json",
                            cwd=workdir, env=ENV).stdout)
    assert breach["detectedAt"] == "2026-11-25T00:00:00+00:00"
    assert breach["duties"][0]["deadline"] == "2026-11-28T00:00:00+00:00"
    as_of = cli("check", "--as-of", "2026-11-25T23:30:00-02:00", "--format", "json", cwd=workdir)
    assert json.loads(as_of.stdout)["asOf"] == "2026-11-26"


def test_erasure_plans_come_as_json_text_or_html(workdir):  # noqa: F811
    cli("subjects", "load", "subjects.jsonl", cwd=workdir, env=ENV)
    text = cli("erasure-plan", "C-1", "--today", "2026-11-25", "--format", "text", cwd=workdir, env=ENV)
    assert text.returncode == 0
    assert text.stdout.splitlines()[:2] == ["Erasure plan for C-1 (policyholder), retention as of 2026-11-25", ""]
    assert ("  claims: health.diagnosis, until no date yet: Art. 17(3)(e): establishment, exercise or defence of "
            "legal claims, until 10 years after the relationship ends (it has not ended yet: no date)"
            ) in text.stdout.splitlines()
    html = cli("erasure-plan", "C-1", "--today", "2026-11-25", "--format", "html", "-o", "plan.html",
               cwd=workdir, env=ENV)
    page = (workdir / "plan.html").read_text()
    assert html.returncode == 0 and "<title>Erasure plan: C-1</title>" in page and "Aurora Mutual" in page
    assert "<td>Reinsurer (re)</td>" in page
    hostile = cli("erasure-plan", "C-<script>", "--format", "html", cwd=workdir, env=ENV).stdout
    assert "C-&lt;script&gt;" in hostile and "<script>" not in hostile

"""API tokens from the command line, and the audit log's commands (`audit --since/--until/--tail`, `audit verify`)."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta

from tests.test_cli import cli
from tests.test_serve import empty_store


def test_tokens_are_created_shown_once_listed_without_the_secret_and_revoked(tmp_path):
    empty_store(tmp_path)
    created = cli("tokens", "create", "--role", "steward", "--name", "ci-loader", "--expires",
                  (date.today() + timedelta(days=30)).isoformat(), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.split()[-1]
    assert token.startswith("dsa_") and len(token) == 47
    assert "shown once" in created.stdout
    listed = cli("tokens", "list", cwd=tmp_path)
    assert "ci-loader" in listed.stdout and "steward" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout
    again = cli("tokens", "create", "--role", "viewer", "--name", "ci-loader", cwd=tmp_path)
    assert (again.returncode, again.stderr) == (2, "error: name: a token named 'ci-loader' is in force already; "
                                                   "revoke it first or choose another name\n")
    assert cli("tokens", "revoke", "ci-loader", cwd=tmp_path).stdout == "revoked the token 'ci-loader'\n"
    assert "revoked" in cli("tokens", "list", cwd=tmp_path).stdout
    missing = cli("tokens", "revoke", "ci-loader", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (2, "error: no token named 'ci-loader' that is not revoked\n")
    assert cli("tokens", "create", "--role", "viewer", "--name", "ci-loader", cwd=tmp_path).returncode == 0
    audit = [json.loads(line) for line in cli("audit", "--entity", "ci-loader", cwd=tmp_path).stdout.splitlines()]
    assert [(e["type"], e["action"]) for e in audit] == [("token", "create"), ("token", "revoke"), ("token", "create")]
    assert token not in json.dumps(audit)
    with sqlite3.connect(tmp_path / "registry.db") as db:
        assert token not in json.dumps(db.execute("SELECT * FROM api_token").fetchall())


def test_bad_token_requests_are_one_line_and_only_admins_manage_tokens(tmp_path):
    empty_store(tmp_path)
    bad = cli("tokens", "create", "--role", "editor", "--name", "x", cwd=tmp_path)
    assert (bad.returncode, bad.stderr) == (2, "error: role: unknown role(s) editor (editor is now steward); "
                                               "known: viewer, steward, dpo, auditor, admin\n")
    past = cli("tokens", "create", "--role", "viewer", "--name", "x", "--expires", "2020-01-01", cwd=tmp_path)
    assert (past.returncode, past.stderr) == (2, "error: expires: 2020-01-01 is in the past\n")
    name = cli("tokens", "create", "--role", "viewer", "--name", "Bad Name", cwd=tmp_path)
    assert name.returncode == 2 and name.stderr.startswith("error: name: 'Bad Name' is not a token name")
    steward = cli("tokens", "list", cwd=tmp_path, env={"DSA_REGISTRY_ROLES": "steward"})
    assert steward.returncode == 2 and "lacks the 'tokens:manage' permission" in steward.stderr


def test_audit_filters_by_date_and_tails_and_verify_reports_the_first_broken_entry(tmp_path):
    assert cli("demo", cwd=tmp_path).returncode == 0
    today = date.today().isoformat()
    everything = cli("audit", cwd=tmp_path).stdout.splitlines()
    assert len(everything) > 100 and [json.loads(line)["seq"] for line in everything] == list(range(1, len(everything) + 1))
    assert cli("audit", "--since", today, "--until", today, cwd=tmp_path).stdout.splitlines() == everything
    assert cli("audit", "--until", "2020-01-01", cwd=tmp_path).stdout == ""
    tail = [json.loads(line)["seq"] for line in cli("audit", "--tail", "3", cwd=tmp_path).stdout.splitlines()]
    assert tail == [len(everything) - 2, len(everything) - 1, len(everything)]
    bad = cli("audit", "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2 and "'yesterday' is not a date" in bad.stderr
    for option, value, reason in [("--until", "9999-12-31", "9999-12-31 is out of range: "),  # was a traceback
                                  ("--since", "0001-01-01", "0001-01-01 is out of range: "),
                                  ("--since", "2026-11-25T09:30:00", "has no UTC offset")]:
        refused = cli("audit", option, value, cwd=tmp_path)
        last = refused.stderr.strip().splitlines()[-1]
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert last.startswith(f"Error: Invalid value for '{option}': ") and reason in last, last
    intact = cli("audit", "verify", cwd=tmp_path)
    assert intact.returncode == 0 and intact.stdout.startswith(f"audit log intact: {len(everything)} entries; head ")
    head = intact.stdout.split()[-1]
    assert cli("audit", "verify", "--anchor", head, cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "registry.db") as db:
        db.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'someone' WHERE seq = 40;")
    broken = cli("audit", "verify", cwd=tmp_path)
    assert (broken.returncode, broken.stdout) == (1, "")
    assert broken.stderr == "audit log broken: audit entry 40: its contents no longer match its hash: the entry was edited\n"

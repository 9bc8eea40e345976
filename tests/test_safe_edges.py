"""What the CLI and the exports do at the edges: a store that does not exist is refused by every
command that reads it (only `load`, `demo` and `serve --demo` create one), dates out of range are
one line and exit 2, outputs are safe to open (spreadsheet formulas neutralised in ropa-csv, control
and format characters escaped in `check` text and SARIF), and an update is audited by the fields it
changed, not the whole document."""

from __future__ import annotations

import csv
import io
import json

import pytest

from graph.embedded import EmbeddedStore
from graph.store import Stored
from registry.audit import AuditTrail
from registry.auth.roles import Principal
from registry.compliance.ropa import spreadsheet_cell
from tests.graphs import LINEAGE
from tests.test_cli import cli


@pytest.mark.parametrize("command", [
    ["check"], ["export"], ["export", "--format", "ropa-csv"], ["query", "{ systems { id } }"], ["audit"],
    ["audit", "verify"], ["tokens", "list"], ["breach", "--system", "crm"], ["dsar", "C-1"],
])
def test_reading_a_store_that_does_not_exist_is_refused_and_creates_nothing(tmp_path, command):
    result = cli("--store", "mistyped.db", *command, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("error: there is no registry at mistyped.db (--store or DSA_REGISTRY_STORE): check the "
                             "path, or create one with `dsa-registry load` or `dsa-registry demo`\n")
    assert not (tmp_path / "mistyped.db").exists()


def test_load_and_demo_create_the_store_and_serve_needs_demo_to(tmp_path):
    (tmp_path / "lineage.yaml").write_text(LINEAGE)
    assert cli("--store", "a.db", "load", "lineage.yaml", cwd=tmp_path).returncode == 0
    assert cli("--store", "b.db", "demo", cwd=tmp_path).returncode == 0
    assert cli("--store", "a.db", "check", cwd=tmp_path).returncode in (0, 1)
    served = cli("--store", "c.db", "serve", "--port", "0", cwd=tmp_path)
    assert (served.returncode, served.stderr.splitlines()[-1]) == (
        2, "error: there is no registry at c.db (--store or DSA_REGISTRY_STORE): check the path, or create one with "
           "`dsa-registry load` or `dsa-registry demo`")
    assert not (tmp_path / "c.db").exists()


@pytest.fixture
def loaded_dir(tmp_path):
    (tmp_path / "lineage.yaml").write_text(LINEAGE)
    assert cli("load", "lineage.yaml", cwd=tmp_path).returncode == 0
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["check", "--as-of", "9999-12-31"], "Invalid value for '--as-of': 9999-12-31 is out of range: dates from "
                                         "1900-01-01 to 2999-12-31"),
    (["check", "--as-of", "0001-01-01T00:00:00+01:00"], "Invalid value for '--as-of': '0001-01-01T00:00:00+01:00' "
     "is not a date such as 2026-11-25 (or is out of range: dates from 1900-01-01 to 2999-12-31)"),
    (["breach", "--system", "crm", "--detected-at", "9999-12-31T23:00:00-05:00"],
     "Invalid value for '--detected-at': 9999-12-31T23:00:00-05:00 is out of range: dates from 1900-01-01 to "
     "2999-12-31"),
    (["breach", "--system", "crm", "--detected-at", "0001-01-01"],
     "Invalid value for '--detected-at': 0001-01-01T00:00:00+00:00 is out of range: dates from 1900-01-01 to "
     "2999-12-31"),
])
def test_command_line_dates_out_of_range_are_one_line_exit_2(loaded_dir, args, message):
    result = cli(*args, cwd=loaded_dir)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: {message}"


def test_command_line_dates_at_the_edges_are_answered(loaded_dir):
    assert cli("check", "--as-of", "2999-12-31", cwd=loaded_dir).returncode in (0, 1)
    breach = cli("breach", "--system", "claims", "--detected-at", "2999-12-31T12:00:00Z", "--format", "json", cwd=loaded_dir)
    assert breach.returncode == 0, breach.stderr


def legacy(path, *docs: Stored) -> None:
    """Documents written straight to the store, as a registry filled before ids were checked could hold."""
    store = EmbeddedStore(path)
    try:
        store.write(list(docs), [], actor="legacy")
    finally:
        store.close()


def test_check_text_and_sarif_show_control_and_format_characters_escaped(loaded_dir):
    forged = "evil\nerror   forged-rule  system crm\u202e"
    legacy(loaded_dir / "registry.db", Stored("system", {"id": forged, "name": "Evil\r\nname", "country": "DE",
                                                    "holds": [{"category": "contact"}]}))
    text = cli("check", cwd=loaded_dir)
    lines = text.stdout.splitlines()
    assert not any(line.startswith("error   forged-rule") for line in lines)
    assert not any("\u202e" in line or "\r" in line for line in lines)
    assert any("system evil\\nerror   forged-rule  system crm\\u202e" in line for line in lines)
    sarif = json.loads(cli("check", "--format", "sarif", cwd=loaded_dir).stdout)
    results = [r for r in sarif["runs"][0]["results"] if r["properties"]["entityId"] == forged]
    assert results
    for result in results:
        assert result["locations"][0]["logicalLocations"][0]["name"].startswith(
            "evil\\nerror   forged-rule  system crm\\u202e")
        assert result["message"]["text"].isprintable()


def test_ropa_csv_cells_that_would_run_as_formulas_are_neutralised(loaded_dir):
    hostile = {"=HYPERLINK(\"http://x\",\"y\")": "=", "+1+1": "+", "-2": "-", "@SUM(A1)": "@", "\tx": "tab",
               "\rx": "cr"}
    legacy(loaded_dir / "registry.db", *[
        Stored("purpose", {"id": f"p{n}", "name": name, "description": name}) for n, name in enumerate(hostile)],
        Stored("system", {"id": "crm", "name": "=CMD|' /C calc'!A0", "country": "DE", "security_measures": "-1",
                          "holds": [{"category": "contact", "purposes": [f"p{n}" for n in range(len(hostile))]}]}))
    out = cli("export", "--format", "ropa-csv", cwd=loaded_dir)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    cells = [value for row in rows for value in row.values() if value]
    assert not [value for value in cells if value[0] in "=+-@\t\r"]
    crm = [row for row in rows if row["system"].endswith("(crm)")]
    assert {row["system"] for row in crm} == {"'=CMD|' /C calc'!A0 (crm)"}
    assert {row["security_measures"] for row in crm} == {"'-1"}
    assert "'=HYPERLINK(\"http://x\",\"y\")" in {row["purpose_description"] for row in crm}


@pytest.mark.parametrize("value, cell", [("=1+2", "'=1+2"), ("+49 30 1234", "'+49 30 1234"), ("-", "'-"),
                                         ("@x", "'@x"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("a=1", "a=1"),
                                         ("", ""), ("Claims (claims)", "Claims (claims)")])
def test_spreadsheet_cells(value, cell):
    assert spreadsheet_cell(value) == cell


def test_an_update_of_a_large_document_is_audited_by_the_fields_it_changed(registry):
    description = "measures " * 2_000
    registry.load([("a.yaml", LINEAGE)], actor="test")
    registry.upsert("system", {"id": "dwh", "name": "Data warehouse", "country": "DE", "description": description},
                    actor="alice")
    since = registry.audit(limit=1000)[-1].seq
    registry.upsert("system", {"id": "dwh", "name": "Warehouse", "country": "DE", "description": description},
                    actor="bob")
    [entry] = registry.audit(since=since)
    assert (entry.action, entry.before, entry.after) == (
        "update", {"id": "dwh", "name": "Data warehouse"}, {"id": "dwh", "name": "Warehouse"})
    registry.upsert("system", {"id": "dwh", "name": "Warehouse", "country": "DE"}, actor="bob")
    [removed] = registry.audit(since=entry.seq)
    assert (removed.before, removed.after) == ({"id": "dwh", "description": description}, {"id": "dwh"})
    assert AuditTrail(registry.store).verify(principal=Principal.of("os:test", "admin")).intact

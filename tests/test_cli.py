"""The `dsa-registry` command line, end to end in a subprocess, as scripts and people use it."""

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.graphs import LINEAGE

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, cwd, env=None, input=None):
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DSA_REGISTRY_", "NEO4J_"))}
    environment = {**inherited, "PYTHONPATH": str(ROOT), "USER": "cli-user", **(env or {})}
    return subprocess.run([sys.executable, "-m", "registry.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, input=input, timeout=60)


@pytest.fixture
def bundle(tmp_path):
    path = tmp_path / "lineage.yaml"
    path.write_text(LINEAGE)
    return path


def test_load_export_and_query_on_the_default_store_in_the_working_directory(tmp_path, bundle):
    loaded = cli("load", str(bundle), cwd=tmp_path)
    assert (loaded.returncode, loaded.stdout) == (0, "created 22, updated 0, deleted 0, unchanged 0\n")
    assert (tmp_path / "registry.db").exists()
    exported = cli("export", cwd=tmp_path)
    assert exported.returncode == 0
    assert [f["id"] for f in yaml.safe_load(exported.stdout)["flows"]] == ["b1", "f1", "f2", "f3", "f4", "f5", "f6"]
    as_json = json.loads(cli("export", "--format", "json", cwd=tmp_path).stdout)
    assert as_json == yaml.safe_load(exported.stdout)
    answer = cli("query", 'query ($h: ID!) { holdings(holder: $h) { nodes { category { id } path } } }',
                 "--variables", '{"h": "re"}', cwd=tmp_path)
    assert answer.returncode == 0
    assert json.loads(answer.stdout) == {"data": {"holdings": {"nodes": [
        {"category": {"id": "health"}, "path": ["f3"]},
        {"category": {"id": "health.diagnosis"}, "path": ["f1", "f2"]}]}}}


def test_exported_bundles_load_back_into_an_identical_registry(tmp_path, bundle):
    cli("--store", "a.db", "load", str(bundle), cwd=tmp_path)
    cli("--store", "a.db", "export", "-o", "out.yaml", cwd=tmp_path)
    assert cli("--store", "b.db", "load", "out.yaml", cwd=tmp_path).returncode == 0
    assert cli("--store", "a.db", "export", cwd=tmp_path).stdout == cli("--store", "b.db", "export", cwd=tmp_path).stdout


def test_store_comes_from_the_environment_and_the_actor_is_the_os_user_never_a_name_given(tmp_path, bundle):
    env = {"DSA_REGISTRY_STORE": str(tmp_path / "env.db"), "USER": "someone-else", "LOGNAME": "someone-else"}
    cli("--actor", "privacy-office", "load", str(bundle), cwd=tmp_path, env=env)
    cli("query", 'mutation { deleteFlow(id: "f6") { id } }', cwd=tmp_path, env=env)
    audit = [json.loads(line) for line in cli("audit", cwd=tmp_path, env=env).stdout.splitlines()]
    user = pwd.getpwuid(os.geteuid()).pw_name  # $USER does not count: anyone can set it
    assert {(e["actor"], e["action"]) for e in audit if e["type"] != "legal-basis"} == {
        (f"os:{user} (as privacy-office)", "create"), (f"os:{user}", "delete")}
    assert not (tmp_path / "registry.db").exists()
    forged = cli("--actor", "x) (as y", "export", cwd=tmp_path, env=env)
    assert forged.returncode == 2 and "--actor" in forged.stderr


def test_invalid_bundles_exit_2_with_every_problem_and_change_nothing(tmp_path, bundle):
    cli("load", str(bundle), cwd=tmp_path)
    before = cli("export", cwd=tmp_path).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("flows:\n  - {id: f9, name: F9, from: crm, to: nowhere, categories: [contact], purpose: fun}\n")
    result = cli("load", "--replace", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    # With --replace the bundle must stand on its own: the registry's crm and contact do not count.
    assert result.stderr == (f"error: nothing was changed; 4 problem(s):\n"
                             f"  {bad}:2:30: flow 'f9': from: unknown system or party 'crm'\n"
                             f"  {bad}:2:39: flow 'f9': to: unknown system or party 'nowhere'\n"
                             f"  {bad}:2:61: flow 'f9': categories[0]: unknown category 'contact'\n"
                             f"  {bad}:2:80: flow 'f9': purpose: unknown purpose 'fun'\n")
    assert "Traceback" not in result.stderr
    assert cli("export", cwd=tmp_path).stdout == before


def test_query_errors_exit_1_and_bad_variables_are_usage_errors(tmp_path):
    (tmp_path / "empty.yaml").write_text("{}\n")
    assert cli("load", "empty.yaml", cwd=tmp_path).returncode == 0  # an empty registry
    result = cli("query", '{ holders(category: "health") { totalCount } }', cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"][0]["message"] == "category: unknown category 'health'"
    result = cli("query", "{ flows { totalCount } }", "--variables", "{nope", cwd=tmp_path)
    assert result.returncode == 2 and "--variables" in result.stderr


def test_demo_loads_the_bundled_insurer_once(tmp_path):
    first = cli("demo", cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.startswith("created ")
    assert cli("demo", cwd=tmp_path).stdout.startswith("created 0, updated 0, deleted 0, unchanged ")


def test_help_describes_every_command(tmp_path):
    result = cli("--help", cwd=tmp_path)
    for command in ("load", "export", "query", "serve", "demo", "audit"):
        assert command in result.stdout
    assert "DSA_REGISTRY_STORE" in result.stdout


def test_an_unusable_store_is_one_line_not_a_traceback(tmp_path):
    result = cli("--store", str(tmp_path / "no" / "such" / "dir.db"), "demo", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot open the store ") and "Traceback" not in result.stderr

"""Progress on long work: a line every so often on stderr when it is not a terminal, nothing with
--quiet, never anything on stdout; and a write that waits too long for another exits 75."""

import io
import json
import sqlite3

import pytest
from click.testing import CliRunner

from registry.cli import base
from registry.cli import main
from registry.progress import Reporter
from tests.subject_graphs import bundles
from tests.test_cli import cli

ENV = {"DSA_REGISTRY_HMAC_KEY": "test-secret-test-secret-test-secret"}


@pytest.fixture
def workdir(tmp_path):
    for name, text in bundles():
        (tmp_path / name).write_text(text)
    (tmp_path / "subjects.jsonl").write_text("".join(
        json.dumps({"id": f"S-{i:05d}", "kind": "insured", "records": [{"system": "crm"}]}) + "\n"
        for i in range(25_000)))
    return tmp_path


def run(workdir, monkeypatch, *args):
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(base, "PROGRESS_EVERY", 0)  # a line at every step, not every 10 s
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DSA_REGISTRY_STORE", raising=False)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_subject_load_not_on_a_terminal_says_how_far_it_is_in_lines_on_stderr(workdir, monkeypatch):
    assert run(workdir, monkeypatch, "load", "extra.yaml", "lineage.yaml").exit_code == 0
    result = run(workdir, monkeypatch, "subjects", "load", "subjects.jsonl")
    assert (result.exit_code, result.stdout) == (0, "subjects.jsonl: 25000 subjects\n")
    lines = result.stderr.splitlines()
    applying = [line for line in lines if line.startswith("dsa-registry: applying subjects.jsonl: ")]
    assert [line.split(": ")[2].split(" (")[0] for line in applying] == ["10,000/25,000", "20,000/25,000",
                                                                        "25,000/25,000"]
    assert all(line.endswith(" left)") for line in applying[:-1]) and applying[-1].endswith("/s)")
    reading = [number for number, line in enumerate(lines) if line.startswith("dsa-registry: reading subjects.jsonl: ")]
    assert reading and " MB/" in lines[reading[-1]]
    # Reading ends before applying starts (the whole file is checked first): its last line comes
    # first, and the applying lines' rate and time left count the applying alone.
    assert reading[-1] < lines.index(applying[0])
    assert all(line.startswith("dsa-registry: ") for line in lines)


def test_quiet_turns_progress_off(workdir, monkeypatch):
    result = run(workdir, monkeypatch, "load", "--quiet", "extra.yaml", "lineage.yaml")
    assert (result.exit_code, result.stderr) == (0, "")
    result = run(workdir, monkeypatch, "subjects", "load", "-q", "subjects.jsonl")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "subjects.jsonl: 25000 subjects\n", "")
    result = run(workdir, monkeypatch, "export", "--quiet", "--format", "json")
    assert result.exit_code == 0 and result.stderr == "" and json.loads(result.stdout)["systems"]


def test_bundle_loads_and_exports_say_which_stage_they_are_in(workdir, monkeypatch):
    result = run(workdir, monkeypatch, "load", "extra.yaml", "lineage.yaml")
    assert result.exit_code == 0 and result.stdout.startswith("created ")
    stages = [line.split(" (")[1].split(")")[0] for line in result.stderr.splitlines() if " (" in line][:3]
    assert stages[0] == "parsing" and stages[1].startswith("checking ") and stages[2].startswith("writing ")
    result = run(workdir, monkeypatch, "export", "--format", "json", "-o", "out.json")
    assert result.exit_code == 0 and "dsa-registry: exporting json (writing out.json)" in result.stderr
    assert json.loads((workdir / "out.json").read_text())["systems"]


def test_quick_work_prints_nothing_when_not_on_a_terminal():
    out = io.StringIO()
    with Reporter(terminal=False, interval=10, stream=out).task("applying x", 3) as task:
        task.to(3)
    assert out.getvalue() == ""


def test_a_write_kept_waiting_by_another_exits_75_with_one_line(workdir):
    assert cli("load", "extra.yaml", "lineage.yaml", cwd=workdir).returncode == 0
    other = sqlite3.connect(workdir / "registry.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        result = cli("load", "-q", "lineage.yaml", cwd=workdir, env={"DSA_REGISTRY_BUSY_TIMEOUT": "0.5"})
    finally:
        other.execute("ROLLBACK")
    assert (result.returncode, result.stderr) == (
        75, "error: busy: another write is in progress (waited 0.5 s); nothing was changed, retry\n")


def test_the_applying_rate_counts_the_applying_alone_not_the_reading_before_it(tmp_path, monkeypatch):
    from registry.cli.subjects import _stages
    now = [1000.0]
    monkeypatch.setattr("registry.progress.time.monotonic", lambda: now[0])
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"x" * 2_000_000)
    out = io.StringIO()
    with _stages(Reporter(terminal=False, interval=0, stream=out), path) as (read, applied):
        now[0] += 100  # reading and checking the file take 100 s
        read(2_000_000, 2_000_000)
        now[0] += 2  # then the first batch of 10,000 takes 2 s
        applied(10_000, 30_000)
    assert out.getvalue().splitlines() == [
        "dsa-registry: reading s.jsonl: 2.0 MB/2.0 MB (0.0 MB/s)",
        "dsa-registry: applying s.jsonl: 10,000/30,000 (5,000/s, about 4 s left)",
    ]

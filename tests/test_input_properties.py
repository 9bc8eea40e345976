"""Property tests over bundles and subject files (hypothesis): whatever the input (valid bundles
with values of the wrong type, unknown or duplicated keys, cut or corrupted text, bytes that are
not UTF-8, byte-order marks, deep nesting, huge numbers and fields), loading it either works or
fails with clear one-line problems, never a traceback, and a failed load changes nothing (the
export, the audit log and the data subjects compared before and after). On the embedded store;
the same code paths validate for every backend."""

import codecs
import json

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from graph.embedded import EmbeddedStore
from registry.bundle import BundleInvalid, Source
from registry.cli import main
from registry.service import Registry
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService
from tests.graphs import LINEAGE
from tests.test_dsar import DPO

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BASE = yaml.safe_load(LINEAGE)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from(["crm", "contact", "health", "treaty", "re", "P10Y",
                                                           "2025-01-01", "gdpr-6-1-b", "scc", "reinsurer"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


@st.composite
def mutated_bundles(draw) -> dict:
    """The LINEAGE bundle with a few fields set to arbitrary values, removed, or added."""
    bundle = json.loads(json.dumps(BASE, default=str))
    for _ in range(draw(st.integers(1, 4))):
        sections = sorted(key for key in BASE if isinstance(bundle.get(key), list))
        if not sections:
            break
        entity = draw(st.sampled_from(bundle[draw(st.sampled_from(sections))]))
        field = draw(st.sampled_from(sorted(entity) + ["extra", "legal_bais", "id"]))
        action = draw(st.sampled_from(["set", "drop", "section"]))
        if action == "set":
            entity[field] = draw(values)
        elif action == "drop":
            entity.pop(field, None)
        else:
            bundle[draw(st.text(max_size=6).filter(lambda key: key not in BASE))] = draw(values)
    return bundle


def corrupt(text: bytes, draw) -> bytes:
    cut = draw(st.integers(0, len(text)))
    insert = draw(st.sampled_from([b"", b"\xff\xfe", b"\xe9", b"\x00", b"\t", b"{", b"]", b": :", b"&a *a",
                                   b"[" * 200, b"9" * 5000, b"\n  - ", b"\xef\xbb\xbf", b"\xe2\x80\xae"]))
    return text[:cut] + insert + text[cut + draw(st.integers(0, 20)):]


@st.composite
def bundle_files(draw) -> tuple[str, bytes]:
    bundle = draw(mutated_bundles())
    as_json = draw(st.booleans())
    text = (json.dumps(bundle) if as_json else yaml.safe_dump(bundle, allow_unicode=True)).encode()
    if draw(st.booleans()):
        text = corrupt(text, draw)
    if draw(st.booleans()):
        text = codecs.BOM_UTF8 + text
    return ("bundle.json" if as_json else "bundle.yaml"), text


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    registry = Registry(EmbeddedStore(tmp_path_factory.mktemp("props") / "registry.db"))
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    yield registry
    registry.store.close()


def state(registry):
    return (registry.export(), len(registry.audit(limit=1000)),
            registry.store.subject_ids(["crm", "claims", "dwh", "actuarial"], 1000))


def assert_clear(problems):
    assert problems
    for problem in problems:
        line = str(problem)
        assert problem.message and "\n" not in line and "Traceback" not in line, line


@SETTINGS
@given(bundle_files())
def test_any_bundle_loads_or_fails_clearly_and_changes_nothing(registry, tmp_path, file):
    name, content = file
    path = tmp_path / name
    path.write_bytes(content)
    before = state(registry)
    try:
        registry.load([Source.read(path)], actor="test")
    except BundleInvalid as error:
        event("refused")
        assert_clear(error.problems)
        assert state(registry) == before
    else:  # put the registry back for the next example
        event("loaded")
        registry.load([("lineage.yaml", LINEAGE)], actor="test", replace=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bundle_files(), st.booleans())
def test_the_cli_never_shows_a_traceback(tmp_path, file, dry_run):
    name, content = file
    (tmp_path / name).write_bytes(content)
    store = str(tmp_path / "cli.db")
    runner = CliRunner()
    args = ["--store", store, "load", *(["--dry-run"] if dry_run else []), str(tmp_path / name)]
    for command in (args, ["check", str(tmp_path / name)]):
        result = runner.invoke(main, command)
        assert result.exit_code in (0, 1, 2), (result.output, result.exception)
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output


subject = st.fixed_dictionaries({
    "id": st.one_of(st.sampled_from(["C-1", "C-2"]), st.text(max_size=6), st.integers()),
    "kind": st.one_of(st.sampled_from(["claimant", "policyholder"]), values),
}, optional={
    "records": st.one_of(st.lists(st.fixed_dictionaries({"system": st.sampled_from(["crm", "claims", "clams", "re"])},
                                                        optional={"categories": values, "since": scalars,
                                                                  "source": scalars}), max_size=3), values),
    "consents": st.one_of(st.lists(st.fixed_dictionaries({
        "purpose": st.sampled_from(["analytics", "marketing"]), "status": st.sampled_from(["granted", "withdrawn", "x"]),
        "at": st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-01", "9999-12-31T23:59:59+14:00"])}), max_size=2),
        values),
    "keys": st.one_of(st.dictionaries(st.sampled_from(["email", "Bad Key"]), st.text(max_size=8), max_size=2), values),
    "extra": values,
})


@st.composite
def subject_files(draw) -> tuple[str, bytes]:
    rows = draw(st.lists(subject, min_size=1, max_size=4))
    if draw(st.booleans()):
        name = "subjects.jsonl"
        text = "".join(json.dumps(row) + "\n" for row in rows).encode()
    else:
        name = "subjects.csv"
        lines = ["id,kind,system,consent_purpose,consent_status,consent_at"]
        for row in rows:
            records = row.get("records") if isinstance(row.get("records"), list) else []
            system = records[0].get("system", "") if records and isinstance(records[0], dict) else ""
            lines.append(",".join(json.dumps(str(v)) if "," in str(v) or '"' in str(v) else str(v) for v in
                                  (row["id"], row["kind"], system, "analytics", "granted", "2025-01-01T00:00:00Z")))
        text = ("\n".join(lines) + "\n").encode()
    if draw(st.booleans()):
        text = corrupt(text, draw)
    if draw(st.booleans()):
        text = codecs.BOM_UTF8 + text
    if draw(st.integers(0, 9)) == 0:
        text += b"C-9,claimant," + b"x" * 140_000 + b"\n"
    return name, text


@SETTINGS
@given(subject_files())
def test_any_subject_file_loads_or_fails_clearly_and_changes_nothing(registry, tmp_path, file):
    name, content = file
    path = tmp_path / name
    path.write_bytes(content)
    service = SubjectService(registry, KeyHasher(b"secret"))
    before = state(registry)
    try:
        service.load(path, principal=DPO)
    except SubjectsInvalid as error:
        event("refused")
        assert_clear(error.problems)
        assert state(registry) == before

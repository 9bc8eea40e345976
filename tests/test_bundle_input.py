"""Bundle and subject files at their edges: lines and columns, "did you mean", duplicate keys,
byte-order marks, text that is not UTF-8, deep nesting, huge integers, huge CSV fields. Each is
one clear line, and nothing is applied. On every backend."""

import codecs
import json

import pytest

from registry.bundle import BundleInvalid, Source
from registry.sources import MAX_DEPTH
from registry.subjects.keys import KeyHasher
from registry.subjects.model import SubjectsInvalid
from registry.subjects.service import SubjectService
from tests.graphs import LINEAGE
from tests.test_dsar import DPO

TYPOS = """\
agreements:
  - id: dpa-cloudco
    name: CloudCo DPA
    kind: dpa
    parties: [re]
    effective: 2025-01-01
flows:
  - id: to-cloud
    name: To the cloud
    from: crm
    to: re
    categories: [contact]
    purpose: analytcs
    legal_bais: gdpr-6-1-b
    agreement: dpa-cloud
    transfer_mechanism: SCC
"""


@pytest.fixture
def loaded(registry):
    registry.load([("lineage.yaml", LINEAGE)], actor="test")
    return registry


def refused(registry, *files):
    """The problems with `files` (paths), after checking that nothing was applied."""
    before, audit = registry.export(), len(registry.audit(limit=1000))
    with pytest.raises(BundleInvalid) as caught:
        registry.load([Source.read(path) for path in files], actor="test")
    assert registry.export() == before and len(registry.audit(limit=1000)) == audit
    return [str(p) for p in caught.value.problems]


def write(tmp_path, name, content):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def test_near_miss_ids_fields_and_values_get_a_suggestion_at_their_line(loaded, tmp_path):
    path = write(tmp_path, "typos.yaml", TYPOS)
    assert refused(loaded, path) == [
        f"{path}:13:14: flow 'to-cloud': purpose: unknown purpose 'analytcs' (did you mean 'analytics'?)",
        f"{path}:14:5: flow 'to-cloud': legal_bais: unknown field (did you mean 'legal_basis'?)",
        f"{path}:15:16: flow 'to-cloud': agreement: unknown agreement 'dpa-cloud' (did you mean 'dpa-cloudco'?)",
        f"{path}:16:25: flow 'to-cloud': transfer_mechanism: Input should be 'adequacy', 'scc', 'bcr' or 'derogation' "
        "(did you mean 'scc'?)",
    ]


def test_ids_far_from_every_known_one_get_no_suggestion(loaded, tmp_path):
    path = write(tmp_path, "far.yaml", "flows:\n  - {id: x, name: X, from: crm, to: nowhere, categories: [contact], "
                                       "purpose: analytics, colour: blue}\n")
    assert refused(loaded, path) == [
        f"{path}:2:37: flow 'x': to: unknown system or party 'nowhere'",
        f"{path}:2:89: flow 'x': colour: unknown field",
    ]


def test_a_suggestion_is_of_the_right_type(loaded, tmp_path):
    # 'crm' is a system: a purpose misspelt as 'crn' gets no suggestion of it.
    path = write(tmp_path, "type.yaml", "flows:\n  - {id: x, name: X, from: crn, to: dwh, categories: [contact], "
                                        "purpose: crn}\n")
    assert refused(loaded, path) == [
        f"{path}:2:28: flow 'x': from: unknown system or party 'crn' (did you mean 'crm'?)",
        f"{path}:2:74: flow 'x': purpose: unknown purpose 'crn'",
    ]


def test_problems_in_several_files_come_file_by_file_in_line_order(loaded, tmp_path):
    first = write(tmp_path, "a.yaml", "purposes:\n  - {id: p1}\n  - {id: p2, name: P2, colour: red}\n")
    second = write(tmp_path, "b.yaml", "{\"purposes\": [\n  {\"id\": \"p3\"}\n]}\n")
    broken = write(tmp_path, "c.yaml", "purposes: [\n")
    # A document that cannot be read stops validation: the others' references could not be trusted.
    assert refused(loaded, first, second, broken) == [f"{broken}:2:1: invalid YAML: did not find expected node content"]
    assert refused(loaded, first, second) == [
        f"{first}:2:5: purpose 'p1': name: required field is missing",
        f"{first}:3:24: purpose 'p2': colour: unknown field",
        f"{second}:2:3: purpose 'p3': name: required field is missing",
    ]


def test_an_id_defined_twice_names_both_lines(loaded, tmp_path):
    first = write(tmp_path, "a.yaml", "purposes:\n  - {id: p1, name: One}\n")
    second = write(tmp_path, "b.yaml", "\npurposes:\n  - {id: p1, name: Two}\n")
    assert refused(loaded, first, second) == [f"{second}:3:10: purpose 'p1': id: duplicate id 'p1' (also at {first}:2)"]


@pytest.mark.parametrize("name, content, expected", [
    ("dup.yaml", "purposes:\n  - id: p\n    name: One\n    name: Two\n",
     ":4:5: duplicate key 'name' (first at line 3)"),
    ("dup-section.yaml", "purposes: []\nsystems: []\npurposes: [{id: p, name: P}]\n",
     ":3:1: duplicate key 'purposes' (first at line 1)"),
    ("dup.json", '{"purposes": [\n  {"id": "p", "name": "One",\n   "name": "Two"}]}\n',
     ":3:4: duplicate key 'name' (first at line 2)"),
    ("deep.yaml", "purposes: " + "[" * 100 + "]" * 100 + "\n", f":1:{MAX_DEPTH + 10}: nested deeper than {MAX_DEPTH} levels"),
    ("deeper.yaml", "purposes: " + "[" * 100_000 + "]" * 100_000 + "\n",
     ":1:1010: invalid YAML: exceeded maximum nesting depth"),
    ("deep.json", '{"purposes": ' + "[" * 100 + "]" * 100 + "}\n", f":1:{MAX_DEPTH + 13}: nested deeper than {MAX_DEPTH} levels"),
    ("deeper.json", '{"purposes": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
     f": nested deeper than {MAX_DEPTH} levels"),
    ("big.yaml", "purposes:\n  - {id: p, name: " + "9" * 5000 + "}\n", ":2:19: an integer of 5000 digits (at most 4300)"),
    ("big.json", '{"purposes": [{"id": "p",\n "name": ' + "9" * 5000 + "}]}", ":2:10: an integer of 5000 digits (at most 4300)"),
    ("latin1.yaml", "purposes:\n  - {id: p, name: Caf\xe9}\n".encode("latin-1"),
     ":2:22: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    ("utf16.yaml", "purposes: []\n".encode("utf-16"),
     ":1:1: UTF-16 text (it starts with a UTF-16 byte-order mark); save the file as UTF-8"),
    ("nul.yaml", "purposes:\n  - {id: p, name: \x00}\n",
     ":2:19: invalid YAML: character #x0000: control characters are not allowed"),
])
def test_unreadable_bundles_are_one_line_with_their_place(loaded, tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    assert refused(loaded, path) == [f"{path}{expected}"]


def test_a_nesting_through_aliases_is_walked_once(loaded, tmp_path):
    # Ten levels of nine aliases each would be 9**10 nodes if expanded.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 11)]
    path = write(tmp_path, "laughs.yaml", "\n".join(lines) + "\n")
    assert refused(loaded, path)[0].startswith(f"{path}:1:1: a0: unknown section")


@pytest.mark.parametrize("name", ["bom.yaml", "bom.json"])
def test_a_byte_order_mark_is_skipped(loaded, tmp_path, name):
    text = "purposes:\n  - {id: pricing, name: Pricing}\n" if name.endswith("yaml") else \
        '{"purposes": [{"id": "pricing", "name": "Pricing"}]}'
    path = write(tmp_path, name, codecs.BOM_UTF8 + text.encode())
    assert loaded.load([Source.read(path)], actor="test").created == 1


def test_json_bundles_yaml_cannot_read_still_name_the_entity_and_field(loaded, tmp_path):
    path = write(tmp_path, "emoji.json", json.dumps({"purposes": [{"id": "p", "name": "\U0001F600", "x": 1}]}))
    assert refused(loaded, path) == [f"{path}: purpose 'p': x: unknown field"]


# --- subject files --------------------------------------------------------------------------

@pytest.fixture
def service(loaded):
    return SubjectService(loaded, KeyHasher(b"secret"))


def subject_problems(service, path):
    with pytest.raises(SubjectsInvalid) as caught:
        service.load(path, principal=DPO)
    assert service.store.subject_ids(["crm", "claims"], 10) == []
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("name, content", [
    ("bom.jsonl", codecs.BOM_UTF8 + b'{"id": "C-1", "kind": "claimant", "records": [{"system": "crm"}]}\n'),
    ("bom.csv", codecs.BOM_UTF8 + b"id,kind,system\nC-1,claimant,crm\n"),
])
def test_subject_files_may_start_with_a_byte_order_mark(service, tmp_path, name, content):
    assert service.load(write(tmp_path, name, content), principal=DPO) == 1


@pytest.mark.parametrize("name, content, expected", [
    ("latin1.csv", "id,kind,system\nC-1,claimant,crm\nC-2,claimant,crm\xe9\n".encode("latin-1"),
     ":3:17: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    ("latin1.jsonl", '{"id": "C-1", "kind": "claimant"}\n{"id": "C-\xe9", "kind": "claimant"}\n'.encode("latin-1"),
     ":2:11: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    ("utf16.csv", "id,kind\nC-1,claimant\n".encode("utf-16"),
     ":1:1: UTF-16 text (it starts with a UTF-16 byte-order mark); save the file as UTF-8"),
    ("huge.csv", "id,kind,system\nC-1,claimant," + "x" * 200_000 + "\n",
     ":2: unreadable CSV: field larger than field limit (131072)"),
    ("deep.jsonl", '{"id": "C-1", "kind": "claimant", "records": ' + "[" * 10_000 + "]" * 10_000 + "}\n",
     ":1: Invalid JSON: recursion limit exceeded at line 1 column 246"),
    ("big.jsonl", '{"id": "C-1", "kind": "claimant", "records": [{"system": ' + "9" * 5000 + "}]}\n",
     ":1: Invalid JSON: number out of range at line 1 column 4359"),
])
def test_unreadable_subject_files_are_one_line_with_their_place(service, tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    assert subject_problems(service, path) == [f"{path}{expected}"]


def test_subject_problems_name_the_subject_and_suggest_near_misses(service, tmp_path):
    path = write(tmp_path, "typos.jsonl", json.dumps({"id": "C-1", "kind": "claimnt", "records": []}) + "\n"
                 + json.dumps({"id": "C-2", "kind": "claimant", "records": [{"system": "clams", "sorce": "x"}]}) + "\n"
                 + json.dumps({"id": "C-3", "kind": "claimant", "records": [{"system": "claim"}]}) + "\n")
    assert subject_problems(service, path) == [
        f"{path}:1: subject 'C-1': kind: unknown subject category 'claimnt'; expected one of beneficiary, claimant, "
        "insured, other, policyholder, prospect, third-party (did you mean 'claimant'?)",
        f"{path}:2: records[0].sorce: unknown field (did you mean 'source'?)",
        f"{path}:3: subject 'C-3': records[0].system: unknown system 'claim' (did you mean 'claims'?)",
    ]

"""The compliance cases: small bundles that gave wrong answers when real insurer material was
tried (`tests/cases/*.yaml`, each commented with what it shows). Each is one example of a kind of
fault; the tests load it as it came, add the fields it could not express where they need them,
and check the right answer next to near-misses."""

from pathlib import Path

import yaml

CASES = Path(__file__).resolve().parent / "cases"


def case(name: str) -> str:
    """The bundle of case `name`, as it came."""
    return (CASES / f"{name}.yaml").read_text()


def load_case(registry, name: str, *overlays: str):
    """Load case `name`, then each overlay (a bundle upserting entities by id) on top of it."""
    registry.load([(f"{name}.yaml", case(name))], actor="test")
    for i, overlay in enumerate(overlays):
        registry.load([(f"overlay-{i}.yaml", overlay)], actor="test")
    return registry


def entity(name: str, section: str, id_: str, **changes) -> str:
    """An overlay redefining entity `id_` of case `name`'s `section` with `changes` (None removes a field)."""
    [doc] = [doc for doc in yaml.load(case(name), Loader=_DatesAsText)[section] if doc["id"] == id_]
    doc = {**doc, **changes}
    return yaml.safe_dump({section: [{k: v for k, v in doc.items() if v is not None}]}, sort_keys=False)


class _DatesAsText(yaml.SafeLoader):
    pass


_DatesAsText.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

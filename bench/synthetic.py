"""A synthetic insurer group for benchmarks: systems, parties, a two-level category tree and flows.

Deterministic for a given seed, so runs on different backends answer the same questions.
"""

from __future__ import annotations

import random


def synthetic_bundle(systems: int = 2_000, parties: int = 500, flows: int = 20_000, seed: int = 7) -> dict:
    rng = random.Random(seed)
    roots = ["contact", "identity", "financial", "policy", "claims", "health", "vehicle", "behavioural"]
    categories = [{"id": root, "name": root.title(), "special": root == "health"} for root in roots]
    categories += [{"id": f"{root}.{i}", "name": f"{root.title()} {i}", "parent": root}
                   for root in roots for i in range(6)]
    category_ids = [c["id"] for c in categories]
    # Contact details go almost everywhere; the rest spread out, leaves more thinly than their roots.
    weights = [30 if c == "contact" else 2 if "." not in c else 1 for c in category_ids]
    purposes = [{"id": f"purpose-{i}", "name": f"Purpose {i}"} for i in range(10)]
    system_ids = [f"sys-{i:05d}" for i in range(systems)]
    party_ids = [f"party-{i:04d}" for i in range(parties)]
    bundle_systems = [{
        "id": id_, "name": f"System {id_}", "country": rng.choice(["DE", "FR", "NL", "IE", "US", "GB"]),
        "holds": [{"category": c, "purposes": [rng.choice(purposes)["id"]], "legal_basis": "gdpr-6-1-b",
                   "retention": "P10Y"} for c in sorted(set(rng.choices(category_ids, weights, k=rng.randint(0, 2))))],
    } for id_ in system_ids]
    bundle_parties = [{"id": id_, "name": f"Party {id_}", "kind": rng.choice(["reinsurer", "broker", "tpa", "processor"]),
                       "country": rng.choice(["DE", "CH", "US", "BM", "GB"]), "role": "controller"} for id_ in party_ids]
    bundle_flows = []
    for i in range(flows):
        source = rng.choice(system_ids) if rng.random() < 0.95 else rng.choice(party_ids)
        target = rng.choice(system_ids) if rng.random() < 0.8 else rng.choice(party_ids)
        if target == source:
            continue
        bundle_flows.append({
            "id": f"flow-{i:06d}", "name": f"Flow {i}", "from": source, "to": target,
            "categories": sorted(set(rng.choices(category_ids, weights, k=rng.randint(1, 2)))),
            "purpose": rng.choice(purposes)["id"], "legal_basis": "gdpr-6-1-b"})
    return {"categories": categories, "purposes": purposes, "systems": bundle_systems, "parties": bundle_parties,
            "flows": bundle_flows}

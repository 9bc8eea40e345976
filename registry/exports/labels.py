"""The short texts a drawing shows: a flow's label (purpose and legal basis) and a node's caption.

>>> flow_label({"purpose": "reinsurance", "legal_basis": "gdpr-6-1-f", "condition": "gdpr-9-2-f"})
'reinsurance · gdpr-6-1-f + gdpr-9-2-f'
>>> flow_label({"purpose": "analytics"})
'analytics · no legal basis'
>>> caption({"kind": "reinsurer", "country": "BM", "third_country": True})
'reinsurer · BM (third country)'
"""

from __future__ import annotations


def flow_label(edge: dict) -> str:
    basis = edge.get("legal_basis") or "no legal basis"
    condition = f" + {edge['condition']}" if edge.get("condition") else ""
    return f"{edge['purpose']} · {basis}{condition}"


def caption(node: dict) -> str:
    third = " (third country)" if node.get("third_country") else ""
    return f"{node['kind']} · {node['country']}{third}"

// The GraphQL the lineage page sends: everything it draws comes from these. Lists come as pages
// (`nodes`, all of them when no `first` is given); enum values (`REINSURANCE_TREATY`) are shown with `word`.

export const CATALOGUE = `{
  categories { nodes { id name special criminal parent { id } } }
  purposes { nodes { id name } }
  systems { nodes { id name } }
  parties { nodes { id name } }
}`;

// An enum value as the registry's bundles write it: `REINSURANCE_TREATY` -> `reinsurance-treaty`.
export const word = (value) => (value ? value.toLowerCase().replaceAll('_', '-') : value);

// The drawing: networkx's Cytoscape JSON of the lineage (see registry/exports/cytoscape.py).
// Only flows in force today are drawn, and with `includeProposed` the planned ones (dashed).
export const DRAWING = `query Drawing($from: ID, $direction: Direction, $depth: Int, $categories: [ID!],
                               $includeProposed: Boolean!) {
  lineageExport(format: CYTOSCAPE_JSON, from: $from, direction: $direction, depth: $depth, categories: $categories,
                includeProposed: $includeProposed)
}`;

// Findings come a page at a time: a whole group's (tens of thousands) in one answer would cost
// more than the API allows one request (DSA_REGISTRY_MAX_QUERY_COST).
export const FINDINGS_PAGE = 1000;
export const FINDINGS = `query Findings($after: String) {
  findings(first: ${FINDINGS_PAGE}, after: $after) {
    nodes { rule severity message reference entityKind entityId category remedy }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const HOLDINGS = `query Holdings($holder: ID!) {
  holdings(holder: $holder) { nodes {
    category { id name special criminal }
    declared
    flow { id from { id name } }
    purposes { id name }
    legalBasis { id name reference }
    condition { id name reference }
    agreement { id name expires status }
    retention
    path
  } }
}`;

export const FLOW = `query Flow($id: ID!) {
  node(id: $id) {
    ... on Flow {
      id name frequency transferMechanism
      from { id name kind country }
      to { id name kind country }
      categories { id name special criminal }
      purpose { id name }
      legalBasis { id name reference }
      condition { id name reference }
      agreement {
        id name kind status effective expires expired transferMechanism document
        parties { id name }
      }
    }
  }
}`;

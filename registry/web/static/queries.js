// The GraphQL the lineage page sends: everything it draws comes from these.

export const CATALOGUE = `{
  categories { id name special criminal parent { id } }
  purposes { id name }
  systems { id name }
  parties { id name }
}`;

// The drawing: networkx's Cytoscape JSON of the lineage (see registry/exports/cytoscape.py).
// Only flows in force today are drawn, and with `includeProposed` the planned ones (dashed).
export const DRAWING = `query Drawing($from: ID, $direction: Direction, $depth: Int, $categories: [ID!],
                               $includeProposed: Boolean!) {
  lineageExport(format: CYTOSCAPE_JSON, from: $from, direction: $direction, depth: $depth, categories: $categories,
                includeProposed: $includeProposed)
}`;

export const FINDINGS = `{ findings { rule severity message reference entityKind entityId category remedy } }`;

export const HOLDINGS = `query Holdings($holder: ID!) {
  holdings(holder: $holder) {
    category { id name special criminal }
    declared
    flow { id from { id name } }
    purposes { id name }
    legalBasis { id name reference }
    condition { id name reference }
    agreement { id name expires status }
    retention
    path
  }
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

// The drawing: Cytoscape.js with the dagre layered layout, left to right.
//
// Elements come from the Cytoscape JSON export, whose data carries what the style needs:
// nodes `shape`, `fill`, `border`, `third_country`, `start`; flows `label`, `special`.
// Ready for more in the same data: flows with `status: "proposed"` are drawn dashed already.

/* global cytoscape, cytoscapeDagre */
cytoscape.use(cytoscapeDagre);

const FINDING = '#dc2626';
const SPECIAL = '#7c3aed';
const THIRD_COUNTRY = '#ea580c';
const MANY_FLOWS = 150; // above this, flow labels only on hover and selection

const STYLE = [
  {
    selector: 'node',
    style: {
      shape: 'data(shape)', 'background-color': 'data(fill)', 'border-color': 'data(border)', 'border-width': 2,
      label: (node) => `${node.data('name')}\n${node.data('caption')}`, 'text-wrap': 'wrap',
      'text-max-width': 150, 'font-size': 11, 'text-valign': 'center', 'text-halign': 'center',
      width: (node) => 7 * Math.min(22, Math.max(node.data('name').length, node.data('caption').length)) + 16,
      height: 40, color: '#111827',
    },
  },
  { selector: 'node[?third_country]', style: { 'border-color': THIRD_COUNTRY, 'border-width': 4, 'border-style': 'dashed' } },
  { selector: 'node[?start]', style: { 'border-width': 6, 'border-style': 'double', 'font-weight': 'bold' } },
  {
    selector: 'edge',
    style: {
      'curve-style': 'bezier', 'target-arrow-shape': 'triangle', width: 1.5, 'line-color': '#94a3b8',
      'target-arrow-color': '#94a3b8', 'arrow-scale': 0.9, label: 'data(label)', 'font-size': 9,
      'text-rotation': 'autorotate', 'text-background-color': '#ffffff', 'text-background-opacity': 0.85,
      'text-background-padding': 1, color: '#334155',
    },
  },
  { selector: 'edge[?special]', style: { width: 4, 'line-color': SPECIAL, 'target-arrow-color': SPECIAL } },
  { selector: 'edge[status = "proposed"]', style: { 'line-style': 'dashed' } },
  { selector: 'edge.finding', style: { 'line-color': FINDING, 'target-arrow-color': FINDING, 'z-index': 10 } },
  { selector: 'edge.quiet', style: { label: '' } },
  { selector: 'edge.quiet:selected, edge.quiet.hover', style: { label: 'data(label)' } },
  { selector: '.filtered', style: { display: 'none' } },
  { selector: ':selected', style: { 'overlay-color': '#2563eb', 'overlay-opacity': 0.18, 'overlay-padding': 6 } },
  { selector: '.found', style: { 'overlay-color': '#f59e0b', 'overlay-opacity': 0.35, 'overlay-padding': 10 } },
];

export function createDrawing(container) {
  return cytoscape({
    container, style: STYLE, minZoom: 0.05, maxZoom: 3,
    boxSelectionEnabled: false, selectionType: 'single',
  });
}

// Replace the drawing with `document` (Cytoscape JSON) and lay it out.
export function draw(cy, document) {
  cy.elements().remove();
  cy.add(document.elements);
  const many = cy.edges().length > MANY_FLOWS;
  cy.batch(() => cy.edges().toggleClass('quiet', many));
  if (many) layers(cy);
  else {
    cy.layout({
      name: 'dagre', rankDir: 'LR', nodeSep: 14, edgeSep: 6, rankSep: 90, ranker: 'network-simplex',
      fit: true, padding: 24, animate: false,
    }).run();
  }
  cy.hideEdgesOnViewport = many;
  cy.textureOnViewport = many;
}

// A quick layered layout for large drawings (dagre's crossing minimisation takes ~13 s at 500 nodes
// and 1,200 flows): breadth-first levels from the sources (nodes nothing flows to), turned to run
// left to right.
function layers(cy) {
  const sources = cy.nodes().filter((node) => node.indegree(false) === 0);
  cy.layout({
    name: 'breadthfirst', directed: true, roots: sources.nonempty() ? sources : undefined, spacingFactor: 0.9,
    avoidOverlap: true, fit: false, animate: false,
  }).run();
  cy.nodes().positions((node) => ({ x: node.position('y') * 2.2, y: node.position('x') * 0.45 }));
  cy.fit(undefined, 24);
}

// Hide flows whose purpose is not among `purposes` (all shown when it is empty), and the nodes
// that are left without a flow (the start node stays).
export function filterPurposes(cy, purposes) {
  const wanted = new Set(purposes);
  cy.batch(() => {
    cy.elements().removeClass('filtered');
    if (!wanted.size) return;
    cy.edges().filter((edge) => !wanted.has(edge.data('purpose'))).addClass('filtered');
    cy.nodes().filter((node) => !node.data('start') &&
      node.connectedEdges().every((edge) => edge.hasClass('filtered'))).addClass('filtered');
  });
}

// Mark the flows that have findings (`byFlow`: flow id -> findings) when `shown`.
export function overlayFindings(cy, byFlow, shown) {
  cy.batch(() => cy.edges().forEach((edge) => edge.toggleClass('finding', shown && byFlow.has(edge.id()))));
}

export function showLabels(cy, shown) {
  cy.batch(() => cy.edges().toggleClass('quiet', !shown || cy.edges().length > MANY_FLOWS));
}

// Centre on a node and mark it briefly.
export function focus(cy, node) {
  cy.elements().unselect();
  node.select();
  cy.animate({ center: { eles: node }, zoom: Math.max(cy.zoom(), 1) }, { duration: 300 });
  node.addClass('found');
  setTimeout(() => node.removeClass('found'), 1500);
}

export const LEGEND = [
  ['system', 'Internal system'], ['reinsurer', 'Reinsurer'], ['regulator', 'Regulator'], ['broker', 'Broker'],
  ['tpa', 'Claims administrator (TPA)'], ['processor', 'Processor'], ['affiliate', 'Affiliate'],
  ['auditor', 'Auditor'], ['law-enforcement', 'Law enforcement'], ['other', 'Other party'],
];
export const MARKS = [
  ['third', `dashed orange border: outside the EEA (third country)`],
  ['start', 'double border: where the lineage starts'],
  ['special', 'thick purple flow: special-category (Art. 9) or criminal-offence (Art. 10) data'],
  ['finding', 'red flow: compliance findings (hover for the rule and message)'],
];

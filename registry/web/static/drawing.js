// The drawing: Cytoscape.js draws, ELK's layered algorithm (elkjs, in a web worker) lays it out left
// to right with orthogonal flow routes (see layout.js).
//
// Elements come from the Cytoscape JSON export, whose data carries what the style needs:
// nodes `shape`, `fill`, `border`, `third_country`, `start`, `caption`; flows `label`, `special`,
// `status` (a proposed flow is drawn dashed).
//
// Legibility: each node is sized to its caption, so ELK keeps captions apart; the view fits the
// drawing but never below MIN_FIT_ZOOM (captions under 9 px), past which it shows the sources'
// side and the rest pans. Flow labels (purpose · legal basis) show on the hovered or selected
// flow, on the flows of the hovered or selected node, and, when "Flow labels when zoomed in" is
// ticked, on every flow once zoomed in past LABEL_ZOOM (they need room more than size).

/* global cytoscape, ELK */
import { elkGraph, placement } from './layout.js';

const FINDING = '#dc2626';
const SPECIAL = '#7c3aed';
const THIRD_COUNTRY = '#ea580c';
const NODE_FONT = 12;
const EDGE_FONT = 10;
export const MIN_FIT_ZOOM = 0.75; // node captions at 9 px
export const MAX_FIT_ZOOM = 1.2; // a small drawing is not blown up
export const LABEL_ZOOM = 1.25; // flow labels at 12.5 px, zoomed in past any fit
const MANY_FLOWS = 400; // above this, flows are not drawn while panning or zooming
const PADDING = 16;

const WIDE = new Set(['diamond', 'star']); // shapes whose middle is narrow: captions wrap sooner
// How much larger than its caption each shape must be for the caption to sit inside it.
const ROOM = {
  'round-rectangle': [1, 1], rectangle: [1, 1], barrel: [1.08, 1.25], ellipse: [1.22, 1.4], hexagon: [1.4, 1.2],
  octagon: [1.2, 1.25], tag: [1.15, 1], diamond: [1.7, 1.6], star: [1.8, 1.8],
};

const STYLE = [
  {
    selector: 'node',
    style: {
      shape: 'data(shape)', 'background-color': 'data(fill)', 'border-color': 'data(border)', 'border-width': 2,
      label: (node) => `${node.data('name')}\n${node.data('caption')}`, 'text-wrap': 'wrap',
      'text-max-width': (node) => (node.data('entity') !== 'party' ? 140 : WIDE.has(node.data('shape')) ? 170 : 220),
      'font-size': NODE_FONT, 'line-height': 1.15, 'text-valign': 'center', 'text-halign': 'center',
      'text-outline-color': 'data(fill)', 'text-outline-width': 2, color: '#111827',
      width: (node) => node.scratch('size')?.width ?? 160, height: (node) => node.scratch('size')?.height ?? 44,
    },
  },
  { selector: 'node[?third_country]', style: { 'border-color': THIRD_COUNTRY, 'border-width': 4, 'border-style': 'dashed' } },
  { selector: 'node[?start]', style: { 'border-width': 6, 'border-style': 'double', 'font-weight': 'bold' } },
  {
    selector: 'edge',
    style: {
      'curve-style': 'bezier', 'target-arrow-shape': 'triangle', width: 1.5, 'line-color': '#94a3b8',
      'target-arrow-color': '#94a3b8', 'arrow-scale': 0.9, label: 'data(label)', 'font-size': EDGE_FONT,
      'text-rotation': 'none', 'text-background-color': '#ffffff', 'text-background-opacity': 0.9,
      'text-background-padding': 2, 'text-background-shape': 'round-rectangle', color: '#334155',
    },
  },
  {
    selector: 'edge.routed',
    style: {
      'curve-style': 'round-segments', 'segment-radii': 6, 'edge-distances': 'node-position',
      'segment-weights': (edge) => edge.scratch('route').weights,
      'segment-distances': (edge) => edge.scratch('route').distances,
      'text-margin-x': (edge) => edge.scratch('route').labelDx, 'text-margin-y': (edge) => edge.scratch('route').labelDy,
    },
  },
  { selector: 'edge[?special]', style: { width: 3.5, 'line-color': SPECIAL, 'target-arrow-color': SPECIAL } },
  { selector: 'edge[status = "proposed"]', style: { 'line-style': 'dashed' } },
  { selector: 'edge.finding', style: { 'line-color': FINDING, 'target-arrow-color': FINDING, 'z-index': 10 } },
  { selector: 'edge.quiet', style: { label: '' } },
  {
    selector: 'edge:selected, edge.hover, edge.near', // above the nodes, so their labels are never hidden
    style: { label: 'data(label)', 'z-compound-depth': 'top', 'z-index': 20, 'text-background-opacity': 1 },
  },
  { selector: 'edge.hover, edge.near', style: { width: 3, 'line-color': '#334155', 'target-arrow-color': '#334155' } },
  { selector: 'edge.hover.finding, edge.near.finding', style: { 'line-color': '#991b1b', 'target-arrow-color': '#991b1b' } },
  { selector: '.filtered', style: { display: 'none' } },
  { selector: ':selected', style: { 'overlay-color': '#2563eb', 'overlay-opacity': 0.18, 'overlay-padding': 6 } },
  { selector: '.found', style: { 'overlay-color': '#f59e0b', 'overlay-opacity': 0.35, 'overlay-padding': 10 } },
];

export function createDrawing(container) {
  const cy = cytoscape({
    container, style: STYLE, minZoom: 0.05, maxZoom: 3,
    boxSelectionEnabled: false, selectionType: 'single',
  });
  elk(); // the worker reads ELK while the page asks for the lineage
  // Flow labels come and go as the zoom passes LABEL_ZOOM.
  cy.on('zoom', () => {
    if ((cy.zoom() >= LABEL_ZOOM) !== cy.scratch('zoomedIn')) showLabels(cy, cy.scratch('labels'));
  });
  // The flows of the selected node keep their labels.
  cy.on('select unselect', 'node', () => {
    cy.batch(() => {
      cy.edges('.near').removeClass('near');
      cy.nodes(':selected').connectedEdges().addClass('near');
    });
  });
  return cy;
}

// Replace the drawing with `document` (Cytoscape JSON); the caller lays it out (`arrange`).
export function draw(cy, document) {
  cy.elements().remove();
  cy.add(document.elements);
  cy.scratch('lineage', document.data || {}); // start, direction: what the drawing answers
  const many = cy.edges().length > MANY_FLOWS;
  cy.hideEdgesOnViewport = many;
  cy.textureOnViewport = many;
}

let engine = null;
let busy = false; // a layout is running in the worker
let generation = 0; // of the latest layout asked for

function elk() {
  engine = engine || new ELK({ workerUrl: '/static/vendor/elk-worker.min.js' });
  return engine;
}

// Lay out the visible elements with ELK and fit the view. Resolves to false when a later call
// superseded this one (its result is dropped; a layout still running in the worker is stopped).
export async function arrange(cy) {
  const mine = ++generation;
  if (busy) {
    engine.terminateWorker(); // its answer is no longer wanted (and its promise never settles)
    engine = null;
  }
  const nodes = cy.nodes(':visible');
  const edges = nodes.edgesWith(nodes).filter(':visible');
  const sizes = sizeNodes(cy, nodes);
  const graph = elkGraph(
    nodes.map((node) => ({ id: node.id(), entity: node.data('entity'), ...sizes.get(node.id()) })),
    edges.map((edge) => ({ id: edge.id(), source: edge.source().id(), target: edge.target().id() })),
    cy.scratch('lineage'),
  );
  busy = true;
  const started = performance.now();
  let laidOut;
  try {
    laidOut = await elk().layout(graph);
  } finally {
    if (generation === mine) busy = false;
  }
  if (generation !== mine) return false;
  cy.scratch('layoutMs', performance.now() - started);
  place(cy, placement(laidOut));
  fitView(cy);
  return true;
}

// Size each node to its caption as Cytoscape wraps it (at most `text-max-width` wide), with room
// for its shape: node id -> { width, height }.
function sizeNodes(cy, nodes) {
  const sizes = new Map();
  nodes.forEach((node) => {
    const label = node.boundingBox({ includeNodes: false, includeEdges: false, includeLabels: true, includeOverlays: false });
    const [wide, tall] = ROOM[node.data('shape')] || [1.3, 1.3];
    const outline = 2 * node.pstyle('text-outline-width').pfValue;
    sizes.set(node.id(), {
      width: Math.ceil(Math.max(60, (label.w - outline) * wide + 14)),
      height: Math.ceil(Math.max(30, (label.h - outline) * tall + 8)),
    });
  });
  cy.batch(() => nodes.forEach((node) => node.scratch('size', sizes.get(node.id()))));
  nodes.updateStyle();
  return sizes;
}

// Put nodes at ELK's centres and draw each flow along ELK's route: its bends become Cytoscape
// segment points, as weights along and distances across the line between the two node centres.
function place(cy, { centres, routes }) {
  cy.batch(() => {
    cy.nodes().forEach((node) => { if (centres.has(node.id())) node.position(centres.get(node.id())); });
    cy.edges().forEach((edge) => {
      const route = routes.get(edge.id());
      const from = centres.get(edge.source().id());
      const to = centres.get(edge.target().id());
      const bends = route ? route.slice(1, -1) : [];
      if (!bends.length || !from || !to) {
        edge.removeClass('routed');
        return;
      }
      const dx = to.x - from.x, dy = to.y - from.y, length = Math.hypot(dx, dy) || 1;
      const label = labelPlace(route), anchor = labelAnchor(bends);
      edge.scratch('route', {
        weights: bends.map((p) => ((p.x - from.x) * dx + (p.y - from.y) * dy) / (length * length)),
        distances: bends.map((p) => ((p.y - from.y) * dx - (p.x - from.x) * dy) / length),
        labelDx: label.x - anchor.x, labelDy: label.y - anchor.y,
      });
      edge.addClass('routed');
    });
  });
  cy.edges('.routed').updateStyle();
}

// Where a flow's label goes: the middle of the longest horizontal run of its route (`points`:
// start, bends, end), so labels lie along flows rather than across the channels between layers.
function labelPlace(points) {
  let best = null, longest = -1;
  for (let i = 1; i < points.length; i += 1) {
    const [a, b] = [points[i - 1], points[i]];
    const run = Math.abs(b.x - a.x) - 1000 * Math.abs(b.y - a.y); // horizontal runs first
    if (run > longest) { longest = run; best = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }; }
  }
  return best;
}

// Where Cytoscape puts the label of a segments edge with these bends: the middle bend, or the
// middle of the two middle bends (a rounded corner moves it by under 2 px).
function labelAnchor(bends) {
  const half = bends.length / 2;
  if (bends.length % 2) return bends[Math.floor(half)];
  return { x: (bends[half - 1].x + bends[half].x) / 2, y: (bends[half - 1].y + bends[half].y) / 2 };
}

// Fit the visible drawing, no larger than MAX_FIT_ZOOM; `all` fits however small, otherwise the
// zoom stops at MIN_FIT_ZOOM and the view shows the drawing's left (the sources), centred
// vertically when it fits.
export function fitView(cy, all = false) {
  const visible = cy.elements(':visible');
  if (visible.empty()) return;
  cy.fit(visible, PADDING);
  if (cy.zoom() > MAX_FIT_ZOOM) cy.zoom({ level: MAX_FIT_ZOOM, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
  if (all || cy.zoom() >= MIN_FIT_ZOOM) return;
  const box = visible.boundingBox();
  const zoom = MIN_FIT_ZOOM;
  const height = cy.height();
  const y = box.h * zoom + 2 * PADDING <= height ? (height - box.h * zoom) / 2 - box.y1 * zoom : PADDING - box.y1 * zoom;
  cy.viewport({ zoom, pan: { x: PADDING - box.x1 * zoom, y } });
}

// Whether the whole visible drawing is in view.
export function wholeInView(cy) {
  const box = cy.elements(':visible').boundingBox();
  const view = cy.extent();
  return box.x1 >= view.x1 - 1 && box.y1 >= view.y1 - 1 && box.x2 <= view.x2 + 1 && box.y2 <= view.y2 + 1;
}

// Hide flows whose purpose is not among `purposes` (all shown when it is empty), and the nodes
// that are left without a flow (the start node stays). Whether what is visible changed.
export function filterPurposes(cy, purposes) {
  const wanted = new Set(purposes);
  const before = cy.elements('.filtered').map((e) => e.id()).join();
  cy.batch(() => {
    cy.elements().removeClass('filtered');
    if (!wanted.size) return;
    cy.edges().filter((edge) => !wanted.has(edge.data('purpose'))).addClass('filtered');
    cy.nodes().filter((node) => !node.data('start') &&
      node.connectedEdges().every((edge) => edge.hasClass('filtered'))).addClass('filtered');
  });
  return cy.elements('.filtered').map((e) => e.id()).join() !== before;
}

// Mark the flows that have findings (`byFlow`: flow id -> findings) when `shown`.
export function overlayFindings(cy, byFlow, shown) {
  cy.batch(() => cy.edges().forEach((edge) => edge.toggleClass('finding', shown && byFlow.has(edge.id()))));
}

// Flow labels on every flow when `shown` and zoomed in to LABEL_ZOOM or more; else only on the
// hovered and selected flows and the selected node's.
export function showLabels(cy, shown) {
  const zoomedIn = cy.zoom() >= LABEL_ZOOM;
  cy.scratch('labels', shown);
  cy.scratch('zoomedIn', zoomedIn);
  cy.batch(() => cy.edges().toggleClass('quiet', !(shown && zoomedIn)));
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

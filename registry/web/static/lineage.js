// The lineage page: loads the catalogue (categories, purposes, nodes), draws the lineage the
// filters ask for, overlays the compliance findings, and opens details on click.
// `window.lineagePage` exposes the drawing (`cy`) and state for tests and the browser console.

import { adoptFragmentToken, explain, graphql, setToken, token } from './auth.js';
import {
  arrange, createDrawing, draw, filterPurposes, fitView, focus, LEGEND, MARKS, overlayFindings, showLabels, wholeInView,
} from './drawing.js';
import { categoryTree, checkboxList, readState, ticked, writeState } from './filters.js';
import { el, flowPanel, messagePanel, nodePanel, showTooltip } from './panel.js';
import { CATALOGUE, DRAWING, FINDINGS, FLOW, HOLDINGS, word } from './queries.js';

adoptFragmentToken();

const $ = (id) => document.getElementById(id);
const page = {
  state: readState(),
  cy: createDrawing($('graph')),
  nodes: [], // every system and party: { id, name }
  findings: { byFlow: new Map(), byNode: new Map(), byAgreement: new Map(), available: false },
};
window.lineagePage = page;

function say(text, kind = 'error') {
  const box = $('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function failed(error, what) {
  say(explain(error, what));
  if (error.kind === 'unauthenticated') askForToken();
}

function askForToken() {
  $('token-form').hidden = false;
  $('token-input').value = token();
  $('token-input').focus();
}

function showTokenState() {
  $('token-state').textContent = token() ? 'token set for this session' : 'no token';
}

// --- loading ------------------------------------------------------------------------------

async function loadCatalogue() {
  const data = await graphql(CATALOGUE);
  page.nodes = [...data.systems.nodes, ...data.parties.nodes].sort((a, b) => a.name.localeCompare(b.name));
  $('all-nodes').replaceChildren(...page.nodes.map((n) => el('option', { value: n.id }, n.name)));
  categoryTree($('categories'), data.categories.nodes, page.state.categories, changed);
  checkboxList($('purposes'), data.purposes.nodes, page.state.purposes, changed);
}

async function loadFindings() {
  const findings = page.findings;
  for (const map of [findings.byFlow, findings.byNode, findings.byAgreement]) map.clear();
  try {
    let after = null;
    do {
      const { findings: batch } = await graphql(FINDINGS, { after });
      for (const found of batch.nodes) {
        const finding = { ...found, severity: word(found.severity), entityKind: word(found.entityKind) };
        const map = { flow: findings.byFlow, agreement: findings.byAgreement }[finding.entityKind] || findings.byNode;
        if (!map.has(finding.entityId)) map.set(finding.entityId, []);
        map.get(finding.entityId).push(finding);
      }
      after = batch.pageInfo.hasNextPage ? batch.pageInfo.endCursor : null;
    } while (after);
    findings.available = true;
  } catch (error) {
    findings.available = false;
    if (error.kind === 'unauthenticated') throw error;
    say(explain(error, 'the compliance findings'), 'warning');
  }
}

async function redraw() {
  const { from, direction, depth, categories, proposed } = page.state;
  document.body.dataset.state = 'loading';
  $('status').textContent = 'Loading…';
  const variables = { from, categories: categories.length ? categories : null, includeProposed: proposed };
  if (from) Object.assign(variables, { direction: direction.toUpperCase(), depth });
  const asked = performance.now();
  const data = await graphql(DRAWING, variables);
  const document_ = JSON.parse(data.lineageExport);
  page.answered = { at: performance.now(), ms: performance.now() - asked };
  page.document = document_;
  draw(page.cy, document_);
  legend();
  await applyView(true);
}

// Filters that need no new answer (purposes), the overlay and the labels; lays the drawing out
// again when `layout` or when the purposes changed what is visible. False when a later redraw
// took over.
async function applyView(layout = false) {
  const cy = page.cy;
  const changed = filterPurposes(cy, page.state.purposes);
  overlayFindings(cy, page.findings.byFlow, $('findings-overlay').checked && page.findings.available);
  showLabels(cy, $('edge-labels').checked);
  const nodes = cy.nodes(':visible').length;
  const flows = cy.edges(':visible');
  if (layout || changed) {
    const since = layout ? page.answered.at : performance.now();
    document.body.dataset.state = 'loading';
    $('status').textContent = `Laying out ${nodes} nodes and ${flows.length} flows…`;
    if (!await arrange(cy)) return false;
    await nextFrames(2); // on the screen
    page.timings = { // milliseconds: the answer's, ELK's, and from the answer (or the filter) to the screen
      answer: layout ? page.answered.ms : 0, layout: cy.scratch('layoutMs'), drawn: performance.now() - since,
    };
  }
  const red = flows.filter('.finding').length;
  const planned = flows.filter('[status = "proposed"]').length;
  const about = page.document.data || {};
  const from = page.state.from ? `from ${page.state.from} (${page.state.direction}` +
    `${page.state.depth !== null ? `, depth ${page.state.depth}` : ''})` : 'whole registry';
  $('status').textContent = `${from} as of ${about.as_of}: ${nodes} nodes, ${flows.length} flows drawn` +
    (planned ? ` (${planned} planned, dashed)` : '') +
    (page.findings.available ? `, ${red} with findings` : '') +
    (about.truncated ? ' · cut at the depth bound: more flows go further' : '') +
    (wholeInView(cy) ? '' : ' · zoomed to stay legible: drag or scroll to see the rest, or Fit all');
  document.body.dataset.state = 'ready';
  return true;
}

const nextFrames = (count) => new Promise((resolve) => {
  const step = () => (--count > 0 ? requestAnimationFrame(step) : resolve());
  requestAnimationFrame(step);
});

async function reload() {
  say('');
  try {
    await redraw();
  } catch (error) {
    document.body.dataset.state = 'error';
    failed(error, 'the lineage');
  }
}

async function start() {
  showTokenState();
  $('start').value = page.state.from || '';
  $('direction').value = page.state.direction;
  $('depth').value = page.state.depth ?? '';
  $('include-proposed').checked = page.state.proposed;
  syncLineageInputs();
  try {
    await loadCatalogue();
    await loadFindings();
    await redraw();
  } catch (error) {
    document.body.dataset.state = 'error';
    failed(error, 'the lineage');
  }
}

// --- filters --------------------------------------------------------------------------------

function syncLineageInputs() {
  const from = Boolean(page.state.from);
  $('direction').disabled = !from;
  $('depth').disabled = !from;
}

function changed() {
  const depth = $('depth').value.trim();
  const from = $('start').value.trim();
  const next = {
    from: from || null, direction: $('direction').value, depth: depth === '' ? null : Number(depth),
    categories: ticked($('categories')), purposes: ticked($('purposes')), proposed: $('include-proposed').checked,
  };
  if (next.from && !page.nodes.some((n) => n.id === next.from)) {
    say(`Unknown system or party: ${next.from}`);
    return;
  }
  const refetch = ['from', 'direction', 'depth', 'proposed'].some((k) => next[k] !== page.state[k]) ||
    next.categories.join() !== page.state.categories.join();
  page.state = next;
  writeState(next);
  syncLineageInputs();
  if (refetch) reload();
  else {
    applyView().catch((error) => {
      document.body.dataset.state = 'error';
      failed(error, 'the layout');
    });
  }
}

function startFrom(id) {
  $('start').value = id;
  changed();
}

function find(text) {
  const wanted = text.trim().toLowerCase();
  if (!wanted) return;
  const node = page.cy.nodes(':visible').filter((n) => n.id().toLowerCase() === wanted)[0] ||
    page.cy.nodes(':visible').filter((n) => `${n.data('name')} ${n.id()}`.toLowerCase().includes(wanted))[0];
  if (node) {
    focus(page.cy, node);
    openNode(node);
  } else {
    say(`"${text}" is not in this drawing. Draw the lineage from it, or widen the filters.`, 'warning');
  }
}

function legend() {
  const kinds = new Map();
  page.cy.nodes().forEach((node) => kinds.set(node.data('kind'), node.data()));
  const items = LEGEND.filter(([kind]) => kinds.has(kind)).map(([kind, text]) => el('li', {},
    el('span', { className: 'swatch', style: `background:${kinds.get(kind).fill};border-color:${kinds.get(kind).border}` }),
    text));
  $('legend').replaceChildren(el('ul', {}, items), el('ul', { className: 'marks' },
    MARKS.map(([mark, text]) => el('li', {}, el('span', { className: `mark ${mark}` }), text))));
}

// --- details and tooltips ---------------------------------------------------------------------

const nodeFindings = (id) => page.findings.byNode.get(id) || [];
const flowFindings = (id) => page.findings.byFlow.get(id) || [];
const actions = { startFrom, selectFlow };

async function openNode(node) {
  try {
    const data = await graphql(HOLDINGS, { holder: node.id() });
    nodePanel($('panel'), node, data.holdings.nodes, nodeFindings(node.id()), actions);
  } catch (error) {
    messagePanel($('panel'), explain(error, `the holdings of ${node.id()}`));
  }
}

async function openFlow(edge) {
  try {
    const data = await graphql(FLOW, { id: edge.id() });
    const agreement = data.node.agreement;
    flowPanel($('panel'), data.node, flowFindings(edge.id()),
      agreement ? page.findings.byAgreement.get(agreement.id) || [] : [], actions);
  } catch (error) {
    messagePanel($('panel'), explain(error, `the flow ${edge.id()}`));
  }
}

function selectFlow(id) {
  const edge = page.cy.getElementById(id);
  if (edge.nonempty() && edge.isEdge()) {
    page.cy.elements().unselect();
    edge.select();
    openFlow(edge);
  } else {
    say(`The flow ${id} is not in this drawing.`, 'warning');
  }
}

page.cy.on('tap', 'node', (event) => openNode(event.target));
page.cy.on('tap', 'edge', (event) => openFlow(event.target));
page.cy.on('mouseover', 'edge', (event) => {
  const edge = event.target;
  edge.addClass('hover');
  const agreement = edge.data('agreement');
  const findings = [...flowFindings(edge.id()), ...(agreement ? page.findings.byAgreement.get(agreement) || [] : [])];
  showTooltip($('tooltip'), event.originalEvent ? { x: event.originalEvent.clientX, y: event.originalEvent.clientY } :
    event.renderedPosition, `${edge.data('name')}: ${edge.data('label')}`, findings);
});
page.cy.on('mouseover', 'node', (event) => {
  const node = event.target;
  node.connectedEdges().addClass('hover');
  showTooltip($('tooltip'), event.originalEvent ? { x: event.originalEvent.clientX, y: event.originalEvent.clientY } :
    event.renderedPosition, `${node.data('name')} (${node.id()})` + (node.data('distance') === undefined ? '' :
      ` · ${node.data('distance')} flow(s) from the start`), nodeFindings(node.id()));
});
page.cy.on('mouseout', 'node, edge', (event) => {
  event.target.removeClass('hover');
  if (event.target.isNode()) event.target.connectedEdges().removeClass('hover');
  $('tooltip').hidden = true;
});

for (const id of ['start', 'direction', 'depth', 'include-proposed']) $(id).addEventListener('change', changed);
$('whole').addEventListener('click', () => startFrom(''));
$('search').addEventListener('keydown', (event) => { if (event.key === 'Enter') find(event.target.value); });
$('search').addEventListener('change', (event) => find(event.target.value));
$('findings-overlay').addEventListener('change', () => applyView());
$('edge-labels').addEventListener('change', () => applyView());
$('fit-all').addEventListener('click', () => fitView(page.cy, true));
$('fit-legible').addEventListener('click', () => fitView(page.cy));
$('token-change').addEventListener('click', askForToken);
$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setToken($('token-input').value.trim());
  $('token-form').hidden = true;
  showTokenState();
  say('');
  start();
});
$('token-forget').addEventListener('click', () => {
  setToken('');
  $('token-input').value = '';
  showTokenState();
});

start();

// The layered layout of a lineage drawing: ELK's layered (Sugiyama) algorithm from elkjs, left to
// right, with orthogonal flow routes. This module only builds ELK's input and reads its answer;
// it runs in the page and, for experiments, in Node (`import('./layout.js')`).
//
// Sources on the left, outside recipients on the right, and flows left to right wherever the
// graph allows:
// - the model order (ELK reads it from the order of `children`) follows the flows: the strongly
//   connected components in topological order, the component that can go next chosen by its
//   rank (a downstream lineage's start, then nodes no flow reaches, then the insurer's own
//   systems, then outside parties, an upstream lineage's start last), and inside a component
//   systems before parties, each in a feedback-arc-set order (Eades, Lin and Smyth's greedy
//   heuristic). ELK's MODEL_ORDER cycle breaking turns each flow that goes back in that order:
//   only flows inside a cycle do, and a party's flows back to the systems it receives from (a
//   claims administrator returning a file) never pull it left of them;
// - layer constraints: the nodes that only send (in that order) start in the first layer; the
//   parties that only receive end in a last layer of their own, the outside world's column.

export const OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.cycleBreaking.strategy': 'MODEL_ORDER',
  'elk.layered.layering.strategy': 'NETWORK_SIMPLEX',
  'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.separateConnectedComponents': 'false',
  'elk.spacing.nodeNode': '10',
  'elk.layered.spacing.nodeNodeBetweenLayers': '24',
  'elk.spacing.edgeNode': '10',
  'elk.layered.spacing.edgeNodeBetweenLayers': '10',
  'elk.spacing.edgeEdge': '5',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '5',
  'elk.padding': '[top=8,left=8,bottom=8,right=8]',
};

// Above this many flows, quicker choices: Brandes and Köpf's node placement (network simplex
// placement straightens and packs better, but takes minutes at 1,200 flows) and fewer crossing
// minimisation rounds. Measured in Chromium: see README's lineage page section.
export const LARGE = 120;
export const LARGE_OPTIONS = {
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.layered.nodePlacement.bk.fixedAlignment': 'BALANCED',
  'elk.layered.thoroughness': '2',
};

export const FIRST = 'FIRST';
export const LAST = 'LAST_SEPARATE';

// The model order and the layer constraints of `nodes` ({ id, entity: 'system' | 'party' }) joined
// by `edges` ({ source, target }, several per pair allowed): { order: [id…], constraints: Map id ->
// FIRST | LAST }. A lineage drawn downstream from `start` starts there; upstream, it ends there.
export function layering(nodes, edges, { start = null, direction = null } = {}) {
  const ids = nodes.map((node) => node.id);
  const known = new Set(ids);
  const flows = edges.filter((e) => e.source !== e.target && known.has(e.source) && known.has(e.target));
  const reached = new Set(flows.map((e) => e.target));
  const entity = new Map(nodes.map((node) => [node.id, node.entity]));
  const rank = new Map(ids.map((id) => {
    if (id === start && direction === 'downstream') return [id, 0];
    if (id === start && direction === 'upstream') return [id, 4];
    return [id, !reached.has(id) ? 1 : entity.get(id) === 'system' ? 2 : 3];
  }));
  const order = [];
  for (const members of componentsInOrder(ids, flows, rank)) {
    const inside = new Set(members);
    const within = flows.filter((e) => inside.has(e.source) && inside.has(e.target));
    for (const r of [0, 1, 2, 3, 4]) {
      const same = members.filter((id) => rank.get(id) === r);
      const group = new Set(same);
      order.push(...greedyOrder(same, within.filter((e) => group.has(e.source) && group.has(e.target))));
    }
  }
  const position = new Map(order.map((id, i) => [id, i]));
  const forwardIn = new Map(), forwardOut = new Map();
  for (const e of flows) {
    const [from, to] = position.get(e.source) < position.get(e.target) ? [e.source, e.target] : [e.target, e.source];
    forwardOut.set(from, (forwardOut.get(from) || 0) + 1);
    forwardIn.set(to, (forwardIn.get(to) || 0) + 1);
  }
  const constraints = new Map();
  for (const id of order) {
    if (forwardOut.get(id) && !forwardIn.get(id)) constraints.set(id, FIRST);
    else if (forwardIn.get(id) && !forwardOut.get(id) && (entity.get(id) === 'party' || rank.get(id) === 4)) {
      constraints.set(id, LAST);
    }
  }
  return { order, constraints };
}

// The strongly connected components of `ids` joined by `edges` (Tarjan), each a list of ids in
// the order of `ids`, in a topological order; of the components that may come next, the one whose
// lowest `rank` is lowest, then the one first in `ids`.
export function componentsInOrder(ids, edges, rank) {
  const out = new Map(ids.map((id) => [id, []]));
  for (const e of edges) out.get(e.source).push(e.target);
  const index = new Map(), low = new Map(), component = new Map(), stack = [], onStack = new Set();
  const components = [];
  let counter = 0;
  for (const root of ids) {
    if (index.has(root)) continue;
    const work = [[root, 0]];
    index.set(root, counter); low.set(root, counter); counter += 1;
    stack.push(root); onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const [id, next] = frame;
      const targets = out.get(id);
      if (next < targets.length) {
        frame[1] += 1;
        const target = targets[next];
        if (!index.has(target)) {
          index.set(target, counter); low.set(target, counter); counter += 1;
          stack.push(target); onStack.add(target);
          work.push([target, 0]);
        } else if (onStack.has(target)) {
          low.set(id, Math.min(low.get(id), index.get(target)));
        }
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(id)));
      }
      if (low.get(id) === index.get(id)) {
        const members = [];
        let member;
        do {
          member = stack.pop();
          onStack.delete(member);
          component.set(member, components.length);
          members.push(member);
        } while (member !== id);
        components.push(members);
      }
    }
  }
  const position = new Map(ids.map((id, i) => [id, i]));
  const key = components.map((members) => [Math.min(...members.map((id) => rank.get(id))),
    Math.min(...members.map((id) => position.get(id)))]);
  const waiting = components.map(() => 0);
  const after = components.map(() => new Set());
  for (const e of edges) {
    const [a, b] = [component.get(e.source), component.get(e.target)];
    if (a !== b && !after[a].has(b)) { after[a].add(b); waiting[b] += 1; }
  }
  const ready = components.map((_, c) => c).filter((c) => !waiting[c]);
  const sorted = [];
  while (ready.length) {
    ready.sort((a, b) => key[a][0] - key[b][0] || key[a][1] - key[b][1]);
    const c = ready.shift();
    sorted.push(components[c].sort((a, b) => position.get(a) - position.get(b)));
    for (const d of after[c]) if (!--waiting[d]) ready.push(d);
  }
  return sorted;
}

// Eades, Lin and Smyth (1993): an order of `ids` in which few `edges` point backwards. Sinks go to
// the end, sources to the front, otherwise the node with the most outgoing less incoming flows to
// the front; ties keep the order of `ids`.
export function greedyOrder(ids, edges) {
  const out = new Map(ids.map((id) => [id, []]));
  const into = new Map(ids.map((id) => [id, []]));
  for (const e of edges) {
    out.get(e.source).push(e.target);
    into.get(e.target).push(e.source);
  }
  const left = new Set(ids);
  const degree = (id, lists) => lists.get(id).filter((other) => left.has(other)).length;
  const front = [], back = [];
  while (left.size) {
    let moved = true;
    while (moved) {
      moved = false;
      for (const id of left) {
        if (!degree(id, out)) { back.push(id); left.delete(id); moved = true; }
        else if (!degree(id, into)) { front.push(id); left.delete(id); moved = true; }
      }
    }
    if (!left.size) break;
    let best = null, bestDelta = -Infinity;
    for (const id of left) {
      const delta = degree(id, out) - degree(id, into);
      if (delta > bestDelta) { best = id; bestDelta = delta; }
    }
    front.push(best);
    left.delete(best);
  }
  return [...front, ...back.reverse()];
}

// ELK's input: `nodes` ({ id, entity, width, height }) and `edges` ({ id, source, target }) of the
// lineage from `start` in `direction` (or the whole registry); `options` override ours.
export function elkGraph(nodes, edges, { start = null, direction = null, options = {} } = {}) {
  const { order, constraints } = layering(nodes, edges, { start, direction });
  const byId = new Map(nodes.map((node) => [node.id, node]));
  return {
    id: '(root)',
    layoutOptions: { ...OPTIONS, ...(edges.length > LARGE ? LARGE_OPTIONS : {}), ...options },
    children: order.map((id) => {
      const { width, height } = byId.get(id);
      const child = { id, width, height };
      if (constraints.has(id)) child.layoutOptions = { 'elk.layered.layering.layerConstraint': constraints.get(id) };
      return child;
    }),
    edges: edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  };
}

// What ELK answered, for the drawing: node centres (id -> { x, y }) and each flow's route (id ->
// [{ x, y }…], its start, bends and end). A flat graph: every coordinate is the root's.
export function placement(laidOut) {
  const centres = new Map(laidOut.children.map((n) => [n.id, { x: n.x + n.width / 2, y: n.y + n.height / 2 }]));
  const routes = new Map();
  for (const edge of laidOut.edges || []) {
    const section = (edge.sections || [])[0];
    if (section) routes.set(edge.id, [section.startPoint, ...(section.bendPoints || []), section.endPoint]);
  }
  return { centres, routes, width: laidOut.width, height: laidOut.height };
}

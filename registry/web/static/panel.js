// The details panel (a node's holdings and their "why"; a flow with its agreement and expiry) and
// the findings tooltip. All text goes in as text, never as HTML.

import { word } from './queries.js';

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'className') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const named = (entity) => (entity ? `${entity.name} (${entity.id})` : '—');
const basis = (legal, condition) =>
  legal ? `${legal.id}${condition ? ` + ${condition.id}` : ''}` : (condition ? condition.id : 'no legal basis');

function expiry(agreement) {
  if (!agreement) return '';
  if (!agreement.expires) return 'no expiry';
  return `${agreement.expired ? 'expired' : 'expires'} ${agreement.expires}`;
}

export function findingList(findings) {
  if (!findings.length) return null;
  return el('ul', { className: 'findings' }, findings.map((f) =>
    el('li', { className: f.severity }, el('strong', {}, `${f.rule}`), ` (${f.severity}): ${f.message}`)));
}

// `actions.selectFlow(id)` selects a drawn flow; `actions.startFrom(id)` redraws from a node.
export function nodePanel(panel, node, holdings, findings, actions) {
  const data = node.data();
  const rows = holdings.map((h) => el('tr', { 'data-category': h.category.id },
    el('td', {}, h.category.name, el('div', { className: 'muted' }, h.category.id),
      h.category.special || h.category.criminal ? el('span', { className: 'badge special' }, 'special') : null),
    el('td', {}, h.declared ? 'declared' : el('span', {}, 'via ',
      flowLink(h.flow.id, actions), ` from ${h.flow.from.name}`)),
    el('td', {}, h.purposes.map((p) => p.name).join(', ') || '—'),
    el('td', { title: [h.legalBasis?.reference, h.condition?.reference].filter(Boolean).join('; ') },
      basis(h.legalBasis, h.condition)),
    el('td', {}, h.agreement ? [h.agreement.name, el('div', { className: 'muted' }, expiry(h.agreement))] :
      (h.declared ? (h.retention ? `retention ${h.retention}` : '') : 'no agreement')),
    el('td', { className: 'path' }, h.path.length ? h.path.flatMap((id, i) => [i ? ' → ' : '', flowLink(id, actions)]) : '—'),
  ));
  panel.replaceChildren(
    closeButton(panel),
    el('h2', {}, data.name),
    el('p', { className: 'muted' }, `${data.id} · ${data.caption}${data.role ? ` · ${data.role}` : ''}`),
    el('button', { type: 'button', onclick: () => actions.startFrom(data.id) }, 'Draw lineage from here'),
    findingList(findings),
    el('h3', {}, `Holdings (${holdings.length})`),
    el('table', { className: 'holdings' },
      el('thead', {}, el('tr', {}, ['Category', 'Why', 'Purposes', 'Legal basis', 'Agreement', 'Path']
        .map((title) => el('th', {}, title)))),
      el('tbody', {}, rows)),
  );
  panel.hidden = false;
}

export function flowPanel(panel, flow, findings, agreementFindings, actions) {
  const agreement = flow.agreement;
  const facts = [
    ['From', named(flow.from)], ['To', `${named(flow.to)} · ${flow.to.country}`],
    ['Categories', flow.categories.map((c) => `${c.name} (${c.id})${c.special || c.criminal ? ' ⚠' : ''}`).join(', ')],
    ['Purpose', named(flow.purpose)],
    ['Legal basis', flow.legalBasis ? `${flow.legalBasis.id}: ${flow.legalBasis.reference}` : 'none recorded'],
    ['Condition', flow.condition ? `${flow.condition.id}: ${flow.condition.reference}` : '—'],
    ['Agreement', agreement ? `${agreement.name} (${agreement.id}), ${word(agreement.kind)}, ${word(agreement.status)}` : 'none'],
    ['In force', agreement ? `from ${agreement.effective}, ${expiry(agreement)}` : '—'],
    ['Parties', agreement ? agreement.parties.map((p) => p.name).join(', ') : '—'],
    ['Transfer mechanism', word(flow.transferMechanism || agreement?.transferMechanism) || '—'],
    ['Document', agreement?.document || '—'],
    ['Frequency', flow.frequency || '—'],
  ];
  panel.replaceChildren(
    closeButton(panel),
    el('h2', {}, flow.name),
    el('p', { className: 'muted' }, `flow ${flow.id}`),
    el('dl', { className: 'facts' }, facts.flatMap(([term, value]) => [el('dt', {}, term), el('dd', {}, value)])),
    findings.length ? el('h3', {}, 'Findings on this flow') : null, findingList(findings),
    agreementFindings.length ? el('h3', {}, 'Findings on its agreement') : null, findingList(agreementFindings),
    el('button', { type: 'button', onclick: () => actions.startFrom(flow.from.id) }, 'Draw lineage from its source'),
  );
  panel.hidden = false;
}

export function messagePanel(panel, text) {
  panel.replaceChildren(closeButton(panel), el('p', { className: 'error' }, text));
  panel.hidden = false;
}

function flowLink(id, actions) {
  return el('a', { href: '#', 'data-flow': id, onclick: (event) => { event.preventDefault(); actions.selectFlow(id); } }, id);
}

function closeButton(panel) {
  return el('button', { type: 'button', className: 'close', 'aria-label': 'Close', onclick: () => { panel.hidden = true; } }, '×');
}

// The tooltip over a flow or node: its findings, rule and message.
export function showTooltip(tooltip, position, title, findings) {
  tooltip.replaceChildren(el('strong', {}, title), findingList(findings) || el('div', { className: 'muted' }, 'no findings'));
  tooltip.style.left = `${position.x + 14}px`;
  tooltip.style.top = `${position.y + 14}px`;
  tooltip.hidden = false;
}

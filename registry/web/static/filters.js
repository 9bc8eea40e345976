// The filters: their state lives in the address (?from=…&direction=…&depth=…&categories=…&purposes=…&proposed=1),
// so a view can be bookmarked and shared (the token never is: it stays in sessionStorage).

export function readState() {
  const query = new URLSearchParams(location.search);
  const list = (name) => (query.get(name) || '').split(',').filter(Boolean);
  const depth = query.get('depth');
  return {
    from: query.get('from') || null,
    direction: query.get('direction') || 'downstream',
    depth: depth === null || depth === '' ? null : Number(depth),
    categories: list('categories'),
    purposes: list('purposes'),
    proposed: query.get('proposed') === '1',
  };
}

export function writeState(state) {
  const query = new URLSearchParams();
  if (state.from) {
    query.set('from', state.from);
    query.set('direction', state.direction);
    if (state.depth !== null) query.set('depth', String(state.depth));
  }
  if (state.categories.length) query.set('categories', state.categories.join(','));
  if (state.purposes.length) query.set('purposes', state.purposes.join(','));
  if (state.proposed) query.set('proposed', '1');
  const search = query.toString();
  history.replaceState(history.state, '', location.pathname + (search ? `?${search}` : '') + location.hash);
}

// Checkboxes for the category tree (children indented under their parent), ticked from `chosen`.
export function categoryTree(container, categories, chosen, onChange) {
  const children = new Map();
  for (const category of categories) {
    const parent = category.parent ? category.parent.id : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(category);
  }
  const known = new Set(categories.map((c) => c.id));
  const roots = categories.filter((c) => !c.parent || !known.has(c.parent.id));
  const list = (items) => {
    const ul = document.createElement('ul');
    for (const category of items) {
      const li = document.createElement('li');
      li.append(checkbox(category.id, category.name + (category.special || category.criminal ? ' ⚠' : ''),
        chosen, onChange));
      const below = children.get(category.id);
      if (below) li.append(list(below));
      ul.append(li);
    }
    return ul;
  };
  container.replaceChildren(list(roots));
}

export function checkboxList(container, items, chosen, onChange) {
  const ul = document.createElement('ul');
  for (const item of items) {
    const li = document.createElement('li');
    li.append(checkbox(item.id, item.name, chosen, onChange));
    ul.append(li);
  }
  container.replaceChildren(ul);
}

export const ticked = (container) =>
  [...container.querySelectorAll('input[type=checkbox]:checked')].map((box) => box.value);

function checkbox(id, name, chosen, onChange) {
  const label = document.createElement('label');
  label.className = 'check';
  label.title = id;
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.value = id;
  box.checked = chosen.includes(id);
  box.addEventListener('change', onChange);
  label.append(box, ` ${name}`);
  return label;
}

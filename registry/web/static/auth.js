// The caller's token and the GraphQL calls that carry it, shared by the lineage page and GraphiQL.
//
// The token is kept in sessionStorage (this tab, until it closes) and sent as
// `Authorization: Bearer …`. A link may hand it over in the fragment (`/#token=…`): browsers
// never send fragments to servers, and the page removes it from the address bar at once.

const KEY = 'dsa-registry.token';

export function adoptFragmentToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get('token');
  if (given === null) return;
  if (given) sessionStorage.setItem(KEY, given);
  fragment.delete('token');
  const rest = fragment.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
}

export const token = () => sessionStorage.getItem(KEY) || '';

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export function authHeaders() {
  const value = token();
  return value ? { Authorization: `Bearer ${value}` } : {};
}

// What went wrong, in words a user can act on. `kind`: unauthenticated | forbidden | graphql | network.
export class ApiError extends Error {
  constructor(kind, message, code) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

export function explain(error, what) {
  switch (error.kind) {
    case 'unauthenticated':
      return `The registry did not accept your token (HTTP 401, UNAUTHENTICATED): ${error.message} ` +
        'Enter a valid access token.';
    case 'forbidden':
      return `Your token lacks a role to see ${what} (FORBIDDEN): ${error.message}`;
    case 'network':
      return `The registry cannot be reached: ${error.message}`;
    default:
      return `Could not load ${what}: ${error.message}`;
  }
}

export async function graphql(query, variables = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...authHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new ApiError('network', error.message);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: reported below with the status
  }
  const errors = (body && body.errors) || [];
  const coded = (code) => errors.find((e) => e.extensions && e.extensions.code === code);
  if (response.status === 401 || coded('UNAUTHENTICATED')) {
    const first = coded('UNAUTHENTICATED') || errors[0];
    throw new ApiError('unauthenticated', first ? first.message : 'a token is needed.', 'UNAUTHENTICATED');
  }
  if (coded('FORBIDDEN')) throw new ApiError('forbidden', coded('FORBIDDEN').message, 'FORBIDDEN');
  if (errors.length) {
    throw new ApiError('graphql', errors.map((e) => e.message).join('; '), errors[0].extensions?.code);
  }
  if (!response.ok || !body) throw new ApiError('graphql', `HTTP ${response.status}`);
  return body.data;
}

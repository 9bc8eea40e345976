// GraphiQL from this app's own files, with the session's token pre-filled as the Authorization
// header (from the lineage page, or a `#token=…` link). Headers are not persisted by GraphiQL.

/* global React, ReactDOM, GraphiQL */
import { adoptFragmentToken, token } from './auth.js';

adoptFragmentToken();

const EXAMPLE = `# Who holds health data, and why?
{
  holders(category: "health", first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      holder { ... on System { id name owner } ... on Party { id name kind role country } }
      category { id }
      flow { id }
      legalBasis { id }
      agreement { id expires }
      path
    }
  }
}
`;

const current = token();
const headers = current ? JSON.stringify({ Authorization: `Bearer ${current}` }, null, 2) : '';
if (!current) {
  const message = document.getElementById('message');
  message.textContent = 'No access token in this session: add "Authorization": "Bearer …" under Headers, ' +
    'or open a link with #token=… .';
  message.hidden = false;
}

const fetcher = GraphiQL.createFetcher({ url: '/graphql' });
ReactDOM.createRoot(document.getElementById('graphiql')).render(React.createElement(GraphiQL, {
  fetcher,
  defaultQuery: EXAMPLE,
  headers,
  shouldPersistHeaders: false,
  defaultEditorToolsVisibility: current ? 'headers' : true,
}));

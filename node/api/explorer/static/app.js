// The explorer's entry point: picks the view for the path, keeps navigation inside the page
// (history.pushState), and wires the search box. Every page path is also served by the node,
// so links can be shared and reloaded.
import { getJson } from './api.js';
import { h } from './format.js';
import { resolve } from './search.js';
import { address } from './views/address.js';
import { block } from './views/block.js';
import { home } from './views/home.js';
import { tx } from './views/tx.js';

const ROUTES = [
  [/^\/$/, home, 'Chain'],
  [/^\/block\/([^/]+)$/, block, 'Block'],
  [/^\/tx\/([^/]+)$/, tx, 'Transaction'],
  [/^\/address\/([^/]+)$/, address, 'Address'],
];

const view = document.getElementById('view');
const message = document.getElementById('message');
let current = null; // the AbortController of the view on screen

function showMessage(text) {
  message.textContent = text;
  message.hidden = !text;
}

function match(pathname) {
  for (const [pattern, render, title] of ROUTES) {
    const m = pattern.exec(pathname);
    if (m) return { render, title, params: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}

async function render() {
  current?.abort(); // stops the previous view's polling and pending requests
  const controller = new AbortController();
  current = controller;
  // Each view draws into its own node: a late answer for a page already left lands nowhere.
  const root = h('div', { class: 'page' }, h('p', { class: 'muted' }, 'Loading…'));
  view.replaceChildren(root);
  const found = match(location.pathname);
  if (found === null) {
    root.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, `No page ${location.pathname}.`));
    return;
  }
  document.title = `${found.title} · minicash explorer`;
  try {
    // A view replaces the "Loading…" line with its content once it has it.
    await found.render(root, {
      params: found.params, query: new URLSearchParams(location.search),
      signal: controller.signal,
    });
  } catch (e) {
    if (controller.signal.aborted) return;
    root.replaceChildren(h('h1', {}, e.status === 404 ? 'Not found' : 'Error'),
      h('p', { class: 'error', 'data-field': 'error' }, e.message));
  }
}

export function navigate(path) {
  showMessage('');
  history.pushState(null, '', path);
  render();
  window.scrollTo(0, 0);
}

document.addEventListener('click', (event) => {
  const a = event.target.closest('a');
  if (!a || a.target || event.button !== 0 || event.metaKey || event.ctrlKey
      || event.shiftKey || event.altKey) return;
  const url = new URL(a.href);
  if (url.origin !== location.origin || match(url.pathname) === null) return;
  event.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    location.hash = url.hash; // an anchor on this page
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => render());

document.getElementById('search').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('search-input');
  const button = event.target.querySelector('button');
  button.disabled = true;
  try {
    navigate(await resolve(input.value));
    input.value = '';
  } catch (e) {
    showMessage(e.message);
  } finally {
    button.disabled = false;
  }
});

getJson('/node/info').then((info) => {
  document.getElementById('network').textContent = info.network;
}).catch(() => { /* the views say when the node is unreachable */ });

render();

// Building DOM nodes (never innerHTML: addresses and errors come from user input) and showing
// amounts, times and sizes the same way on every page.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'hidden') el.hidden = true;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export const COIN = 100_000_000;

// Satoshis as coins with 8 decimals, by integer arithmetic (no float rounding).
export function coins(sat) {
  const sign = sat < 0 ? '-' : '';
  const abs = Math.abs(sat);
  return `${sign}${Math.floor(abs / COIN)}.${String(abs % COIN).padStart(8, '0')} BTC`;
}

export const signedCoins = (sat) => (sat > 0 ? '+' : '') + coins(sat);

export const count = (n) => n.toLocaleString('en-US');

export const vbytes = (n) => `${count(n)} vB`;

export const bytes = (n) => `${count(n)} B`;

// Esplora gives weight; vsize is weight / 4 rounded up (BIP141).
export const vsizeOf = (tx) => Math.ceil(tx.weight / 4);

export const feeRate = (fee, vsize) => `${(fee / vsize).toFixed(2)} sat/vB`;

export function utc(seconds) {
  return new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function age(seconds, now = Date.now() / 1000) {
  const d = Math.max(0, Math.round(now - seconds));
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

// Difficulty spans from 4.7e-10 (regtest) to 1e14 (main): four significant digits suffice.
export function difficulty(d) {
  return d !== 0 && (d < 1e-3 || d >= 1e15) ? d.toExponential(4) : String(Number(d.toPrecision(6)));
}

// A definition list of [label, value, field] rows; `field` names the value for tests and CSS.
export function fields(rows) {
  return h('dl', { class: 'fields' }, rows.filter(Boolean).map(([label, value, field]) => [
    h('dt', {}, label),
    h('dd', { 'data-field': field }, value),
  ]));
}

export const link = (href, text, attrs = {}) => h('a', { href, ...attrs }, text);

// A hash that is a link, shortened by CSS (ellipsis) where space is short.
export const hashLink = (href, hash, attrs = {}) =>
  h('a', { href, class: 'hash', title: hash, ...attrs }, hash);

export const blockPath = (hash) => `/block/${hash}`;
export const txPath = (txid) => `/tx/${txid}`;
export const addressPath = (address) => `/address/${encodeURIComponent(address)}`;

// An Esplora transaction's first input says whether it is a coinbase.
export const isCoinbase = (tx) => tx.vin.length > 0 && tx.vin[0].is_coinbase;

export const totalOut = (tx) => tx.vout.reduce((sum, out) => sum + out.value, 0);

// A confirmed transaction's or output's block as a link, else an "unconfirmed" badge.
export const statusLink = (status) => (status.confirmed
  ? link(blockPath(status.block_hash), `block ${status.block_height}`)
  : h('span', { class: 'badge pending' }, 'unconfirmed'));

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// Links to the neighbouring pages of a list (either may be null) around a label.
export function pager(prev, next, label, [prevText, nextText] = ['← Newer', 'Older →']) {
  return h('nav', { class: 'pager', 'aria-label': 'pages' },
    prev ? link(prev, prevText, { rel: 'prev', 'data-nav': 'prev' }) : h('span'),
    h('span', { class: 'muted', 'data-field': 'page' }, label),
    next ? link(next, nextText, { rel: 'next', 'data-nav': 'next' }) : h('span'));
}

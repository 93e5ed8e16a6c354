// Home: the chain tip, the mempool and its fee-rate histogram, the latest blocks and recent
// transactions, and the node's peers, polled so the page follows the node without reloading.
import { esplora, getJson, getText } from '../api.js';
import { feeHistogram } from '../chart.js';
import {
  age, blockPath, bytes, coins, count, difficulty, feeRate, fields, h, hashLink, link, section,
  txPath, utc, vbytes,
} from '../format.js';

export const POLL_MS = 2000;

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

function blocksTable(blocks) {
  return h('table', { class: 'list blocks' },
    h('thead', {}, h('tr', {},
      h('th', { class: 'num' }, 'Height'), h('th', {}, 'Hash'), h('th', { class: 'when' }, 'Time'),
      h('th', { class: 'num narrow' }, 'Txs'), h('th', { class: 'num wide' }, 'Size'))),
    h('tbody', {}, blocks.map((b) => h('tr', { 'data-hash': b.id },
      h('td', { class: 'num' },
        link(blockPath(b.id), String(b.height), { 'data-field': 'height' })),
      h('td', {}, hashLink(blockPath(b.id), b.id)),
      h('td', { class: 'when', title: utc(b.timestamp) }, age(b.timestamp)),
      h('td', { class: 'num narrow', 'data-field': 'tx_count' }, String(b.tx_count)),
      h('td', { class: 'num wide' }, bytes(b.size))))));
}

function recentTxs(recent) {
  if (recent.length === 0) return h('p', { class: 'muted' }, 'No unconfirmed transactions.');
  return h('ol', { class: 'tx-list' }, recent.map((t) =>
    h('li', { class: 'tx-row', 'data-txid': t.txid },
      hashLink(txPath(t.txid), t.txid),
      h('div', { class: 'tx-meta' },
        h('span', {}, `fee ${feeRate(t.fee, t.vsize)}`),
        h('span', { class: 'amount' }, coins(t.value))))));
}

// Peers are shown generically: one column per field any entry has, so the page does not need
// to change when the P2P layer adds fields.
function peersView(info) {
  const list = Array.isArray(info.peer_list) ? info.peer_list : [];
  if (list.length === 0) {
    return h('p', { class: 'muted', 'data-field': 'peers' },
      `No peers (${info.peers ?? 0} connected).`);
  }
  const keys = [...new Set(list.flatMap((peer) => Object.keys(peer)))];
  const show = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v ?? ''));
  return h('div', { class: 'scroll' }, h('table', { class: 'list peers', 'data-field': 'peers' },
    h('thead', {}, h('tr', {}, keys.map((k) => h('th', {}, k)))),
    h('tbody', {}, list.map((peer) => h('tr', {}, keys.map((k) => h('td', {}, show(peer[k]))))))));
}

export async function home(root, { signal }) {
  const tip = h('div');
  const mempool = h('div');
  const chart = h('div', { class: 'chart' });
  const blocks = h('div');
  const recent = h('div');
  const peers = h('div');
  const live = h('p', { class: 'live muted', 'data-field': 'live' }, 'Loading…');
  root.replaceChildren(
    h('h1', {}, 'Chain'), live,
    section('Tip', tip),
    section('Mempool', mempool, chart),
    section('Latest blocks', blocks),
    section('Recent transactions', recent),
    section('Peers', peers));

  let newest = [];
  async function refresh() {
    const [hash, pool, info, latest] = await Promise.all([
      getText('/api/blocks/tip/hash', signal), esplora('/mempool', signal),
      getJson('/node/info', signal), esplora('/mempool/recent', signal)]);
    if (newest.length === 0 || hash !== newest[0].id) {
      newest = await esplora('/blocks', signal);
      const best = newest[0];
      tip.replaceChildren(fields([
        ['Height', String(best.height), 'tip-height'],
        ['Hash', hashLink(blockPath(best.id), best.id, { class: 'hash full' }), 'tip-hash'],
        ['Time', `${utc(best.timestamp)} (${age(best.timestamp)})`, 'tip-time'],
        ['Difficulty', difficulty(best.difficulty), 'difficulty'],
      ]));
    }
    blocks.replaceChildren(blocksTable(newest)); // every time: the ages move on
    mempool.replaceChildren(fields([
      ['Transactions', count(pool.count), 'mempool-count'],
      ['Size', vbytes(pool.vsize), 'mempool-vsize'],
      ['Fees', coins(pool.total_fee), 'mempool-fees'],
    ]));
    chart.replaceChildren(feeHistogram(pool.fee_histogram));
    recent.replaceChildren(recentTxs(latest));
    peers.replaceChildren(peersView(info));
    live.textContent = `Live: updated ${new Date().toLocaleTimeString('en-GB')}`;
    live.classList.remove('stale');
  }

  await refresh();
  while (!signal.aborted) {
    await sleep(POLL_MS, signal);
    if (signal.aborted) break;
    if (document.hidden) continue; // a background tab does not poll
    try {
      await refresh();
    } catch (e) {
      if (signal.aborted) break;
      live.textContent = `Node unreachable (${e.message}); retrying…`;
      live.classList.add('stale');
    }
  }
}

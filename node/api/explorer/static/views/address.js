// An address: balance, unspent outputs and history. History pages as Esplora does: the first
// page holds the mempool transactions and the newest 25 confirmed ones; older pages continue
// after the last confirmed txid seen (/txs/chain/:last_seen_txid).
import { esplora } from '../api.js';
import {
  addressPath, coins, count, fields, h, link, pager, section, statusLink, txPath,
} from '../format.js';
import { txList } from '../txlist.js';

export const CHAIN_TXS_PER_PAGE = 25;
const UTXOS_SHOWN = 25; // more on request: a busy address has thousands

function utxoRows(utxos) {
  return utxos.map((u) => h('li', { class: 'tx-row', 'data-outpoint': `${u.txid}:${u.vout}` },
    link(`${txPath(u.txid)}#vout-${u.vout}`, `${u.txid}:${u.vout}`,
      { class: 'hash', title: `${u.txid}:${u.vout}` }),
    h('div', { class: 'tx-meta' },
      statusLink(u.status),
      h('span', { class: 'amount', 'data-field': 'value' }, coins(u.value)))));
}

function utxoList(utxos) {
  if (utxos.length === 0) return h('p', { class: 'muted' }, 'No unspent outputs.');
  const list = h('ol', { class: 'tx-list utxos' }, utxoRows(utxos.slice(0, UTXOS_SHOWN)));
  if (utxos.length <= UTXOS_SHOWN) return list;
  const more = h('button', {
    type: 'button', class: 'more',
    onclick: () => {
      const shown = list.children.length;
      list.append(...utxoRows(utxos.slice(shown, shown + UTXOS_SHOWN)));
      if (list.children.length >= utxos.length) more.remove();
    },
  }, 'Show more');
  return h('div', {}, list, more);
}

export async function address(root, { params: [addr], query, signal }) {
  const after = query.get('after');
  const base = `/address/${encodeURIComponent(addr)}`;
  const [info, history] = await Promise.all([
    esplora(base, signal),
    esplora(after ? `${base}/txs/chain/${after}` : `${base}/txs`, signal)]);
  // Too many outputs for one answer is a 400 with a reason: show it, keep the page.
  const utxos = await esplora(`${base}/utxo`, signal).catch((e) => {
    if (signal.aborted) throw e;
    return e;
  });
  const chain = info.chain_stats;
  const pool = info.mempool_stats;
  const confirmed = chain.funded_txo_sum - chain.spent_txo_sum;
  const unconfirmed = pool.funded_txo_sum - pool.spent_txo_sum;
  const confirmedTxs = history.filter((t) => t.status.confirmed);
  const older = confirmedTxs.length >= CHAIN_TXS_PER_PAGE
    ? `${addressPath(addr)}?after=${confirmedTxs[confirmedTxs.length - 1].txid}` : null;

  root.replaceChildren(
    h('h1', {}, 'Address'),
    section('Summary', fields([
      ['Address', h('span', { class: 'hash full' }, info.address), 'address'],
      ['Balance', coins(confirmed + unconfirmed), 'balance'],
      ['Confirmed', coins(confirmed), 'confirmed'],
      ['Unconfirmed', coins(unconfirmed), 'unconfirmed'],
      ['Total received', coins(chain.funded_txo_sum + pool.funded_txo_sum), 'received'],
      ['Transactions', count(chain.tx_count + pool.tx_count), 'tx_count'],
    ])),
    section('Unspent outputs', utxos instanceof Error
      ? h('p', { class: 'muted', 'data-field': 'utxo-error' }, utxos.message)
      : utxoList(utxos)),
    section('History',
      pager(after ? addressPath(addr) : null, older,
        after ? `confirmed, older than ${after.slice(0, 8)}…` : 'newest first',
        ['← Newest', 'Older →']),
      txList(history, { address: addr, showStatus: true })));
}

// A transaction: status and confirmations, fee and fee rate, inputs with the outputs they
// spend, outputs with their addresses and whether (and by whom) they are spent.
import { esplora, getText } from '../api.js';
import {
  addressPath, blockPath, bytes, coins, count, feeRate, fields, h, hashLink, isCoinbase, link,
  section, totalOut, txPath, utc, vsizeOf,
} from '../format.js';

function script(out) {
  if (out.scriptpubkey_address) {
    return link(addressPath(out.scriptpubkey_address), out.scriptpubkey_address,
      { class: 'address', 'data-field': 'address' });
  }
  return h('span', { class: 'script', title: out.scriptpubkey_asm, 'data-field': 'script' },
    `${out.scriptpubkey_type}: ${out.scriptpubkey_asm || '(empty)'}`);
}

function inputRow(input, i) {
  if (input.is_coinbase) {
    return h('li', { class: 'io', 'data-vin': i },
      h('span', { class: 'badge' }, 'coinbase'),
      h('span', { class: 'muted script', title: input.scriptsig },
        `new coins; script ${input.scriptsig}`));
  }
  const prev = input.prevout;
  return h('li', { class: 'io', 'data-vin': i },
    h('div', { class: 'io-line' },
      link(`${txPath(input.txid)}#vout-${input.vout}`, `${input.txid}:${input.vout}`,
        { class: 'hash', title: `${input.txid}:${input.vout}`, 'data-field': 'prevout' }),
      h('span', { class: 'amount', 'data-field': 'value' }, prev ? coins(prev.value) : '?')),
    prev ? script(prev) : h('span', { class: 'muted' }, 'previous output unknown'));
}

function spentBy(spend) {
  if (spend === undefined) {
    return h('span', { class: 'muted', 'data-field': 'spent' }, 'spent status unknown');
  }
  if (!spend.spent) return h('span', { class: 'badge unspent', 'data-field': 'spent' }, 'unspent');
  return h('span', { 'data-field': 'spent' }, 'spent by ',
    hashLink(txPath(spend.txid), `${spend.txid}:${spend.vin}`, { 'data-field': 'spender' }),
    spend.status.confirmed ? null : h('span', { class: 'badge pending' }, 'unconfirmed'));
}

function outputRow(out, i, spend) {
  return h('li', { class: 'io', id: `vout-${i}`, 'data-vout': i },
    h('div', { class: 'io-line' },
      h('span', { class: 'muted' }, `#${i}`),
      h('span', { class: 'amount', 'data-field': 'value' }, coins(out.value))),
    script(out),
    spentBy(spend));
}

export async function tx(root, { params: [txid], signal }) {
  const [t, tipHeight] = await Promise.all([
    esplora(`/tx/${txid}`, signal), getText('/api/blocks/tip/height', signal)]);
  // Without the spending index (--no-index) the node cannot say; the page still shows the rest.
  const outspends = await esplora(`/tx/${txid}/outspends`, signal).catch((e) => {
    if (signal.aborted) throw e;
    return [];
  });
  const coinbase = isCoinbase(t);
  const vsize = vsizeOf(t);
  const confirmed = t.status.confirmed;
  const confirmations = confirmed ? Number(tipHeight) - t.status.block_height + 1 : 0;

  root.replaceChildren(
    h('h1', {}, 'Transaction'),
    section('Summary', fields([
      ['Txid', h('span', { class: 'hash full' }, t.txid), 'txid'],
      ['Status', confirmed
        ? h('span', {}, 'confirmed in ', link(blockPath(t.status.block_hash),
          `block ${t.status.block_height}`, { 'data-field': 'block' }))
        : h('span', { class: 'badge pending' }, 'unconfirmed (in the mempool)'), 'status'],
      ['Confirmations', count(confirmations), 'confirmations'],
      confirmed ? ['Block time', utc(t.status.block_time), 'block_time'] : null,
      ['Fee', coinbase ? '— (coinbase)' : `${count(t.fee)} sat`, 'fee'],
      ['Fee rate', coinbase ? '—' : feeRate(t.fee, vsize), 'feerate'],
      ['Output total', coins(totalOut(t)), 'total_out'],
      ['Size', bytes(t.size), 'size'],
      ['Virtual size', `${count(vsize)} vB`, 'vsize'],
      ['Weight', `${count(t.weight)} WU`, 'weight'],
      ['Version', String(t.version), 'version'],
      ['Locktime', String(t.locktime), 'locktime'],
    ])),
    section(`Inputs (${t.vin.length})`, h('ol', { class: 'io-list inputs' }, t.vin.map(inputRow))),
    section(`Outputs (${t.vout.length})`, h('ol', { class: 'io-list outputs' },
      t.vout.map((out, i) => outputRow(out, i, outspends[i])))));
  // A link to one output (/tx/<txid>#vout-1) lands on it, also after in-page navigation.
  const target = location.hash && document.getElementById(location.hash.slice(1));
  if (target) {
    target.classList.add('target');
    target.scrollIntoView();
  }
}

// One line per transaction, for a block's transactions and an address's history.
import {
  coins, feeRate, h, hashLink, isCoinbase, signedCoins, statusLink, totalOut, txPath, vsizeOf,
} from './format.js';

// What a transaction did to an address: received minus spent, in satoshis.
export function netChange(tx, address) {
  let net = 0;
  for (const out of tx.vout) if (out.scriptpubkey_address === address) net += out.value;
  for (const input of tx.vin) {
    if (input.prevout && input.prevout.scriptpubkey_address === address) net -= input.prevout.value;
  }
  return net;
}

export function txRow(tx, { address = null, showStatus = false } = {}) {
  const net = address === null ? null : netChange(tx, address);
  return h('li', { class: 'tx-row', 'data-txid': tx.txid },
    hashLink(txPath(tx.txid), tx.txid, { 'data-field': 'txid' }),
    h('div', { class: 'tx-meta' },
      showStatus ? statusLink(tx.status) : null,
      isCoinbase(tx) ? h('span', { class: 'badge' }, 'coinbase')
        : h('span', { 'data-field': 'fee' }, `fee ${feeRate(tx.fee, vsizeOf(tx))}`),
      h('span', { class: 'muted' }, `${tx.vin.length} in → ${tx.vout.length} out`),
      net === null
        ? h('span', { class: 'amount', 'data-field': 'value' }, coins(totalOut(tx)))
        : h('span', { class: `amount ${net < 0 ? 'out' : 'in'}`, 'data-field': 'net' },
          signedCoins(net))));
}

export function txList(txs, options) {
  if (txs.length === 0) return h('p', { class: 'muted' }, 'No transactions.');
  return h('ol', { class: 'tx-list' }, txs.map((tx) => txRow(tx, options)));
}

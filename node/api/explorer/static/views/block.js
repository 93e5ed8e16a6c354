// A block: its header fields and its transactions, 25 a page as Esplora pages them.
import { esplora, getText } from '../api.js';
import {
  blockPath, bytes, count, difficulty, fields, h, hashLink, pager, section, utc,
} from '../format.js';
import { txList } from '../txlist.js';

export const TXS_PER_PAGE = 25; // Esplora's /block/:hash/txs/:start_index page

export async function block(root, { params: [hash], query, signal }) {
  const start = Number.parseInt(query.get('start') ?? '0', 10);
  if (!(start >= 0) || start % TXS_PER_PAGE) {
    throw new Error(`start must be a multiple of ${TXS_PER_PAGE}`);
  }
  const [b, status, tipHeight] = await Promise.all([
    esplora(`/block/${hash}`, signal), esplora(`/block/${hash}/status`, signal),
    getText('/api/blocks/tip/height', signal)]);
  const txs = await esplora(`/block/${hash}/txs/${start}`, signal);
  // Core's "confirmations": 1 for the tip, 0 here for a block off the best chain (Core: -1).
  const confirmations = status.in_best_chain ? Number(tipHeight) - b.height + 1 : 0;
  const next = status.next_best ? hashLink(blockPath(status.next_best), status.next_best) : '—';
  const end = Math.min(start + TXS_PER_PAGE, b.tx_count);
  const self = blockPath(b.id);

  root.replaceChildren(
    h('h1', {}, `Block ${b.height}`),
    section('Header', fields([
      ['Hash', h('span', { class: 'hash full' }, b.id), 'hash'],
      ['Height', String(b.height), 'height'],
      ['Confirmations', status.in_best_chain ? count(confirmations) : '0 (not in the best chain)',
        'confirmations'],
      ['Time', utc(b.timestamp), 'time'],
      ['Median time', utc(b.mediantime), 'mediantime'],
      ['Previous block', b.previousblockhash
        ? hashLink(blockPath(b.previousblockhash), b.previousblockhash) : '— (genesis)',
      'previousblockhash'],
      ['Next block', next, 'next'],
      ['Merkle root', h('span', { class: 'hash full' }, b.merkle_root), 'merkle_root'],
      ['Version', `0x${(b.version >>> 0).toString(16).padStart(8, '0')}`, 'version'],
      ['Bits', `0x${b.bits.toString(16).padStart(8, '0')}`, 'bits'],
      ['Nonce', String(b.nonce), 'nonce'],
      ['Difficulty', difficulty(b.difficulty), 'difficulty'],
      ['Transactions', count(b.tx_count), 'tx_count'],
      ['Size', bytes(b.size), 'size'],
      ['Weight', `${count(b.weight)} WU`, 'weight'],
    ])),
    section('Transactions',
      pager(start > 0 ? `${self}?start=${start - TXS_PER_PAGE}` : null,
        end < b.tx_count ? `${self}?start=${end}` : null,
        `${start + 1}–${end} of ${count(b.tx_count)}`,
        ['← Previous', 'Next →']),
      txList(txs)));
}

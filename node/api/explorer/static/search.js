// The search box: a height, a block hash, a txid or an address, resolved through the API to
// the page that shows it.
import { ApiError, esplora, getText } from './api.js';
import { addressPath, blockPath, txPath } from './format.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

async function exists(path) {
  try {
    await getText(path);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return false;
    throw e;
  }
}

export async function resolve(query) {
  const q = query.trim();
  if (q === '') throw new Error('Type a block height, block hash, txid or address.');
  // A 64-digit string is a hash, not a height: try hashes first.
  if (HEX64.test(q)) {
    const id = q.toLowerCase();
    if (await exists(`/api/block/${id}/status`)) return blockPath(id);
    if (await exists(`/api/tx/${id}/status`)) return txPath(id);
    throw new Error(`No block or transaction ${id}.`);
  }
  if (/^\d+$/.test(q)) {
    try {
      return blockPath(await getText(`/api/block-height/${q}`));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) throw new Error(`No block at height ${q}.`);
      if (e instanceof ApiError && e.status === 400) throw new Error(`Not a height: ${e.message}.`);
      throw e;
    }
  }
  try {
    await esplora(`/address/${encodeURIComponent(q)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) {
      throw new Error(`Not a height, block hash, txid or address (${e.message}).`);
    }
    throw e;
  }
  return addressPath(q);
}

// The node's own HTTP API (Esplora paths under /api, node info under /node): the only data
// source of the explorer, used exactly as any other client would use it.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(path, signal) {
  const resp = await fetch(path, { signal, headers: { Accept: 'application/json, text/plain' } });
  const text = await resp.text();
  if (!resp.ok) {
    // Errors are JSON {"error": reason} or, on Esplora's text routes, the reason as text.
    let reason = text.trim();
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === 'string') reason = body.error;
    } catch { /* plain text reason */ }
    throw new ApiError(resp.status, reason || `HTTP ${resp.status}`);
  }
  return text;
}

export const getText = (path, signal) => request(path, signal);
export const getJson = async (path, signal) => JSON.parse(await request(path, signal));
// An Esplora route: esplora('/blocks') reads /api/blocks.
export const esplora = (path, signal) => getJson('/api' + path, signal);

import type { IncomingMessage, ServerResponse } from 'node:http';

/** Response headers worth passing back to the page; everything else (cookies above all) stays behind. */
const PASSED_BACK = ['content-type', 'content-disposition', 'retry-after', 'cache-control'];
const MAX_BODY_BYTES = 64 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Sends the request on with the person's own credential and copies the answer back. Refusals
 * (401, 403, 429) are the upstream's own: the console decides nothing about access.
 */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: { url: string; credential: string; body?: Buffer },
): Promise<void> {
  const headers: Record<string, string> = { authorization: `Bearer ${target.credential}`, accept: req.headers.accept ?? 'application/json' };
  if (target.body && target.body.length > 0) headers['content-type'] = 'application/json';
  const upstream = await fetch(target.url, {
    method: req.method,
    headers,
    body: req.method === 'POST' ? (target.body ?? Buffer.alloc(0)) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  const out: Record<string, string> = { 'cache-control': 'no-store' };
  for (const name of PASSED_BACK) {
    const value = upstream.headers.get(name);
    if (value) out[name] = value;
  }
  res.writeHead(upstream.status, out);
  res.end(Buffer.from(await upstream.arrayBuffer()));
}

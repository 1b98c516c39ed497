import { Readable } from 'node:stream';

export interface ScrapeResponse {
  status: number;
  headers: Record<string, string>;
  /** A message, or the exposition's bytes: one buffer (gzip), or its slices in order. */
  body: string | Buffer | readonly Buffer[];
  /**
   * Call once the body is sent (or will not be): its buffers are reused for a later scrape, so
   * the body must not be read after. Not calling it is safe: the buffers are then left to the
   * garbage collector. See {@link releaseWhenClosed}.
   */
  release?: () => void;
}

/**
 * Calls `response.release` when the HTTP response that sends its body closes: finished (Node has
 * handed every byte to the socket) or abandoned (the client went away).
 *
 * @example
 * const response = await handler.scrape(accept, acceptEncoding);
 * releaseWhenClosed(res, response);
 * endWithBody(res, response.body);
 */
export function releaseWhenClosed(
  res: { once?(event: 'close', listener: () => void): unknown } | undefined,
  response: ScrapeResponse,
): void {
  if (response.release !== undefined && typeof res?.once === 'function') res.once('close', response.release);
}

/**
 * The bytes of a body, for `Content-Length`.
 *
 * @example
 * res.setHeader('Content-Length', String(bodyLength(response.body)));
 */
export function bodyLength(body: ScrapeResponse['body']): number {
  if (typeof body === 'string' || Buffer.isBuffer(body)) return Buffer.byteLength(body);
  let length = 0;
  for (const chunk of body) length += chunk.length;
  return length;
}

/**
 * Writing to a socket in one turn of the event loop, at most (each write costs 5 to 40 µs): with
 * a slice of rendering (`SLICE_BUDGET_MS`) and a GC in the same turn, still under 5 ms.
 */
const WRITE_BUDGET_MS = 0.5;

/** The largest piece of a body written at once (a gzipped 800 KB body is copied in pieces). */
const WRITE_PIECE_BYTES = 64 * 1024;

/** What `endWithBody` needs of a response (a Node `ServerResponse` has it). */
export interface WritableResponse {
  write(chunk: Buffer): unknown;
  end(chunk?: string | Buffer): unknown;
  /** When true (the client went away), the rest of the body is not written. */
  readonly destroyed?: boolean;
  /** For `'drain'`: the rest of the body is written as the socket takes it. */
  once?(event: 'drain', listener: () => void): unknown;
}

/**
 * Writes a body to a Node response and ends it: slices one by one, as the socket takes them
 * (`'drain'`), over as many turns of the event loop as it takes to keep each under
 * {@link WRITE_BUDGET_MS} (840 writes of a 13 MB body in one turn held the loop 5 to 30 ms),
 * without copying them into one buffer.
 *
 * @example
 * res.writeHead(200, { 'Content-Length': bodyLength(response.body) });
 * endWithBody(res, response.body);
 */
export function endWithBody(res: WritableResponse, body: ScrapeResponse['body']): void {
  if (typeof body === 'string' || (Buffer.isBuffer(body) && body.length <= WRITE_PIECE_BYTES)) {
    res.end(body);
    return;
  }
  writeInTurns(res, Buffer.isBuffer(body) ? [body] : body, 0, 0);
}

/**
 * Writes `chunks` from `chunks[index]`, byte `offset`, as long as the socket takes them and this
 * turn (begun at `turnStarted`) has budget left; then goes on when the socket drains, in the next
 * turn if the budget is spent.
 */
function writeInTurns(
  res: WritableResponse,
  chunks: readonly Buffer[],
  index: number,
  offset: number,
  turnStarted = performance.now(),
): void {
  if (res.destroyed === true) return;
  while (index < chunks.length) {
    const chunk = chunks[index];
    // Views, not copies: a large chunk goes out in pieces.
    const end = Math.min(chunk.length, offset + WRITE_PIECE_BYTES);
    const flowing = res.write(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end));
    if (end === chunk.length) {
      index++;
      offset = 0;
    } else offset = end;
    if (index === chunks.length) break;
    // The socket has a piece waiting: the next when it has taken it. Queuing the whole body
    // instead lets libuv write megabytes in one go (kernel copies on the event loop's thread).
    if (flowing === false && typeof res.once === 'function') {
      const next = index;
      const from = offset;
      res.once('drain', () => {
        // On loopback the socket drains within the same turn (a tick after the write): going on
        // there while the budget lasts saves a turn per slice; past it, a turn of its own, or
        // every write would chain into one long turn.
        if (performance.now() - turnStarted < WRITE_BUDGET_MS) writeInTurns(res, chunks, next, from, turnStarted);
        else setImmediate(writeInTurns, res, chunks, next, from);
      });
      return;
    }
    if (performance.now() - turnStarted >= WRITE_BUDGET_MS) {
      setImmediate(writeInTurns, res, chunks, index, offset);
      return;
    }
  }
  res.end();
}

/**
 * A body as something a framework sends as bytes (a stream of the slices, for Fastify and StreamableFile).
 *
 * @example
 * reply.send(bodyAsBytes(response.body));
 */
export function bodyAsBytes(body: ScrapeResponse['body']): Buffer | Readable {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  const chunks = body;
  return chunks.length === 1 ? chunks[0] : Readable.from(chunks, { objectMode: false });
}

/** The response to a scrape: the exposition, gzipped (`gzipped: true`) when the scraper accepts it (Prometheus does). */
export function scrapeResponse(
  contentType: string,
  body: Buffer | readonly Buffer[],
  gzipped: boolean,
): ScrapeResponse {
  const headers: Record<string, string> = {
    'Content-Type': contentType,
    'Cache-Control': 'no-store',
    Vary: 'Accept, Accept-Encoding',
  };
  if (gzipped) headers['Content-Encoding'] = 'gzip';
  return { status: 200, headers, body };
}

/** A scrape that could not be answered: Prometheus records the target as down (`up == 0`). */
export function scrapeFailure(status: number, message: string): ScrapeResponse {
  return {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
    body: `${message}\n`,
  };
}

import { BodyBufferPool } from './body-buffer-pool.js';
import { type ExpositionBodies, ExpositionBody } from './exposition-body.js';
import type { ChunkSink } from './render-exposition.js';
import { acceptsGzip } from './accept-encoding.js';
import { acceptsProtobuf, PROTOBUF_CONTENT_TYPE } from './protobuf.js';
import { negotiate } from './render-metrics.js';
import { type ScrapeResponse, scrapeFailure, scrapeResponse } from './scrape-response.js';

/** What `maxConcurrentScrapes` defaults to: a Prometheus pair (sharing) and a person with curl. */
export const DEFAULT_MAX_CONCURRENT_SCRAPES = 2;

/**
 * Renders the exposition in the format `negotiate(accept)` names, with an optional `?name[]=`
 * filter, handing it to `onSlice` a slice at a time; resolves when it is complete.
 */
export type RenderFn = (accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink) => Promise<void>;

interface Rendering {
  contentType: string;
  /** Whether a scrape of it takes the body as it is, gzipped: all known before it starts. */
  plain: boolean;
  gzip: boolean;
  /** Scrapes given the plain body and not done with it yet: its buffers go back to the pool at 0. */
  plainReaders: number;
  bodies: Promise<ExpositionBodies>;
  /** Gives the plain body's buffers back to the pool (set once the body is complete). */
  release?: () => void;
}

/** Longest pause between two renderings (see `SharedScrapes`): Prometheus' scrape timeout is 10 s by default. */
export const MAX_RENDERING_GAP_MS = 1000;

/**
 * Answers scrapes while bounding the work they cost. Rendering ~24k series takes tens to hundreds
 * of milliseconds of CPU (in slices: see lib/core/exposition), so clients looping on `/metrics`
 * could take nearly all of the app's CPU. Three things bound that:
 * - renderings run one at a time, and the next starts no sooner than the last one took (at most
 *   `MAX_RENDERING_GAP_MS`) after it ended: scrapes get at most about half of the event loop;
 * - scrapes that arrive while a rendering of the same format and filter waits for its turn share
 *   it, so clients looping on the endpoint cost one rendering between them; the rendering makes
 *   the plain body, the gzipped one (streamed through the compressor as it is rendered), or both,
 *   as the scrapes sharing it accept;
 * - at most `maxConcurrent` renderings wait or run at once; a scrape that would need one more is
 *   answered `503` with `Retry-After: 1` at once.
 * Nothing is cached, and a scrape never joins a rendering that has started: a value recorded
 * before a scrape arrives is always in its answer. Bodies are encoded into buffers reused from
 * scrape to scrape ({@link BodyBufferPool}): a response that calls `release()` once sent gives
 * them back.
 *
 * @example
 * const scrapes = new SharedScrapes(2);
 * const response = await scrapes.respond(req.headers.accept, req.headers['accept-encoding'], undefined, (accept, names, onSlice) =>
 *   renderExposition(registry, formatOf(negotiate(accept)), names, onSlice),
 * );
 */
export class SharedScrapes {
  /** Renderings yet to start, by format and filter: a scrape may join one of these. */
  private readonly queued = new Map<string, Rendering>();
  /** Renderings queued or running. */
  private active = 0;
  /** The last rendering queued: the next one starts after it. */
  private tail: Promise<unknown> = Promise.resolve();
  /** When (`Date.now()`) the next rendering may start. */
  private notBefore = 0;
  /** The buffers bodies are encoded into, kept for the next scrapes. */
  private readonly buffers = new BodyBufferPool();

  constructor(private readonly maxConcurrent: number) {}

  /** The response to one scrape; rejects when `render` does (the caller decides what to answer). */
  async respond(
    accept: string | undefined,
    acceptEncoding: string | undefined,
    names: string[] | undefined,
    render: RenderFn,
  ): Promise<ScrapeResponse> {
    // Formats render from `negotiate(accept)` alone (or protobuf), so that is what identical scrapes share.
    const contentType = acceptsProtobuf(accept) ? PROTOBUF_CONTENT_TYPE : negotiate(accept);
    const key = names === undefined ? contentType : `${contentType}\n${[...new Set(names)].sort().join('\n')}`;
    let rendering = this.queued.get(key);
    if (rendering === undefined) {
      if (this.active >= this.maxConcurrent) return tooManyScrapes();
      const next: Rendering = { contentType, plain: false, gzip: false, plainReaders: 0, bodies: undefined as never };
      next.bodies = this.enqueue(key, next, render, accept, names);
      rendering = next;
      this.queued.set(key, next);
    }
    // Before the rendering starts (it waits at least for the next turn): it makes what is asked.
    const gzip = acceptsGzip(acceptEncoding);
    if (gzip) rendering.gzip = true;
    else {
      rendering.plain = true;
      rendering.plainReaders++;
    }
    const bodies = await rendering.bodies;
    if (gzip) return scrapeResponse(contentType, bodies.gzipped as Buffer, true);
    const response = scrapeResponse(contentType, bodies.plain as readonly Buffer[], false);
    response.release = once(() => {
      if (--rendering.plainReaders === 0) rendering.release?.();
    });
    return response;
  }

  private enqueue(
    key: string,
    rendering: Rendering,
    render: RenderFn,
    accept: string | undefined,
    names: string[] | undefined,
  ): Promise<ExpositionBodies> {
    this.active++;
    const run = this.tail.then(async () => {
      const wait = this.notBefore - Date.now();
      if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait));
      // From now on, a scrape of this key waits for the next rendering: it may hold newer values.
      this.queued.delete(key);
      const started = Date.now();
      const body = new ExpositionBody(rendering, this.buffers);
      try {
        await startRendering(render, accept, names, slice => body.write(slice));
        const bodies = await body.end();
        // Scrapes that take the plain body give its buffers back when they are done with it.
        if (rendering.plainReaders > 0) rendering.release = () => body.release();
        else body.release();
        return bodies;
      } catch (error) {
        body.destroy();
        throw error;
      } finally {
        this.active--;
        const ended = Date.now();
        this.notBefore = ended + Math.min(ended - started, MAX_RENDERING_GAP_MS);
      }
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}

/** `render` as a promise even when it throws synchronously. */
async function startRendering(
  render: RenderFn,
  accept: string | undefined,
  names: string[] | undefined,
  onSlice: ChunkSink,
): Promise<void> {
  return render(accept, names, onSlice);
}

function tooManyScrapes(): ScrapeResponse {
  const response = scrapeFailure(503, 'too many concurrent scrapes');
  // The renderings in progress take tens of milliseconds: a well-behaved client may retry soon.
  response.headers['Retry-After'] = '1';
  return response;
}

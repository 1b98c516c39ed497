import { negotiate, type RenderedMetrics } from './render-metrics.js';
import { gzipBody, type ScrapeResponse, scrapeFailure, scrapeResponse } from './scrape-response.js';

/** What `maxConcurrentScrapes` defaults to: a Prometheus pair (sharing) and a person with curl. */
export const DEFAULT_MAX_CONCURRENT_SCRAPES = 2;

/** Renders the exposition in a format, with an optional `?name[]=` filter. */
export type RenderFn = (accept: string | undefined, names: string[] | undefined) => Promise<RenderedMetrics>;

interface Rendering {
  rendered: Promise<RenderedMetrics>;
  /** The gzipped body, made once for every scrape of this rendering that accepts gzip. */
  gzipped?: Promise<Buffer>;
}

/**
 * Answers scrapes while bounding the work they cost. Rendering ~24k series takes tens of
 * milliseconds of the event loop, so clients looping on `/metrics` could take most of the app's
 * CPU. Scrapes that arrive while a rendering of the same format and filter is in progress share
 * it (and its gzipped body); at most `maxConcurrent` distinct renderings run at once, and a
 * scrape past that is answered `503` with `Retry-After: 1` at once. Nothing is cached: a scrape
 * that arrives after a rendering finished gets a new one, so values are never stale.
 *
 * @example
 * const scrapes = new SharedScrapes(2);
 * const response = await scrapes.respond(req.headers.accept, req.headers['accept-encoding'], undefined, (accept, names) =>
 *   renderRegistry(registry, accept, names),
 * );
 */
export class SharedScrapes {
  private readonly inFlight = new Map<string, Rendering>();

  constructor(private readonly maxConcurrent: number) {}

  /** The response to one scrape; rejects when `render` does (the caller decides what to answer). */
  async respond(
    accept: string | undefined,
    acceptEncoding: string | undefined,
    names: string[] | undefined,
    render: RenderFn,
  ): Promise<ScrapeResponse> {
    // Formats render from `negotiate(accept)` alone, so that is what identical scrapes share.
    const key =
      names === undefined ? negotiate(accept) : `${negotiate(accept)}\n${[...new Set(names)].sort().join('\n')}`;
    let rendering = this.inFlight.get(key);
    if (rendering === undefined) {
      if (this.inFlight.size >= this.maxConcurrent) return tooManyScrapes();
      const started: Rendering = { rendered: startRendering(render, accept, names) };
      rendering = started;
      this.inFlight.set(key, started);
      const done = () => {
        if (this.inFlight.get(key) === started) this.inFlight.delete(key);
      };
      started.rendered.then(done, done);
    }
    const shared = rendering;
    return scrapeResponse(await shared.rendered, acceptEncoding, body => (shared.gzipped ??= gzipBody(body)));
  }
}

/** `render` as a promise even when it throws synchronously. */
async function startRendering(
  render: RenderFn,
  accept: string | undefined,
  names: string[] | undefined,
): Promise<RenderedMetrics> {
  return render(accept, names);
}

function tooManyScrapes(): ScrapeResponse {
  const response = scrapeFailure(503, 'too many concurrent scrapes');
  // The renderings in progress take tens of milliseconds: a well-behaved client may retry soon.
  response.headers['Retry-After'] = '1';
  return response;
}

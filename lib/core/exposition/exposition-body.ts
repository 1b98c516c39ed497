import { finished } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';

/**
 * The bodies of one rendering: as written, and gzipped, each made if some scrape asked for it.
 *
 * @example
 * const { plain, gzipped } = await body.end();
 */
export interface ExpositionBodies {
  /**
   * The slices, encoded, in order: never concatenated, since copying 14 MB into one new buffer
   * takes tens of milliseconds of the event loop (page faults included) on a small machine.
   */
  plain?: readonly Buffer[];
  gzipped?: Buffer;
}

/**
 * Collects an exposition as it is rendered, slice by slice: each slice is encoded to UTF-8 in
 * the turn that wrote it, and, when a scrape wants gzip, fed to a streaming compressor whose work
 * runs in libuv's thread pool. Nothing compresses or encodes a finished 10 MB string in one piece
 * on the event loop.
 *
 * @example
 * ```ts
 * const body = new ExpositionBody({ plain: true, gzip: true });
 * await renderExposition(registry, 'text', undefined, slice => body.write(slice));
 * const { plain, gzipped } = await body.end();
 * ```
 */
export class ExpositionBody {
  private readonly chunks?: Buffer[];
  private readonly gzip?: Gzip;
  private readonly compressed: Buffer[] = [];
  private readonly compressing?: Promise<void>;

  constructor(wanted: { plain: boolean; gzip: boolean }) {
    if (wanted.plain) this.chunks = [];
    if (wanted.gzip) {
      const gzip = createGzip();
      gzip.on('data', (chunk: Buffer) => this.compressed.push(chunk));
      this.gzip = gzip;
      this.compressing = finished(gzip);
      // A failure is reported by end(); until then it must not be an unhandled rejection.
      this.compressing.catch(() => undefined);
    }
  }

  write(slice: string | Buffer): void {
    const bytes = typeof slice === 'string' ? Buffer.from(slice, 'utf8') : slice;
    this.chunks?.push(bytes);
    this.gzip?.write(bytes);
  }

  /** The bodies, once the compressor has flushed. */
  async end(): Promise<ExpositionBodies> {
    const bodies: ExpositionBodies = {};
    if (this.chunks) bodies.plain = this.chunks;
    if (this.gzip) {
      this.gzip.end();
      await this.compressing;
      bodies.gzipped = Buffer.concat(this.compressed);
    }
    return bodies;
  }

  /** Frees the compressor of a rendering that failed. */
  destroy(): void {
    this.gzip?.destroy();
  }
}

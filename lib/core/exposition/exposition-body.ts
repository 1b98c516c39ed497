import { finished } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';
import { BODY_BUFFER_BYTES, type BodyBufferPool } from './body-buffer-pool.js';

const EMPTY = Buffer.alloc(0);

/**
 * The bodies of one rendering: as written, and gzipped, each made if some scrape asked for it.
 *
 * @example
 * const { plain, gzipped } = await body.end();
 */
export interface ExpositionBodies {
  /**
   * The slices, encoded, in order: never concatenated, since copying 14 MB into one new buffer
   * takes tens of milliseconds of the event loop (page faults included) on a small machine. With
   * a pool, these are views of its buffers, valid until the body is released.
   */
  plain?: readonly Buffer[];
  gzipped?: Buffer;
}

/**
 * Collects an exposition as it is rendered, slice by slice: each slice is encoded to UTF-8 in
 * the turn that wrote it, and, when a scrape wants gzip, fed to a streaming compressor whose work
 * runs in libuv's thread pool. Nothing compresses or encodes a finished 10 MB string in one piece
 * on the event loop. Given a pool, it encodes into the pool's buffers, and `release()` gives them
 * back once nothing reads the plain body any more.
 *
 * @example
 * ```ts
 * const body = new ExpositionBody({ plain: true, gzip: true }, pool);
 * await renderExposition(registry, 'text', undefined, slice => body.write(slice));
 * const { plain, gzipped } = await body.end();
 * // ... once every response has sent `plain`:
 * body.release();
 * ```
 */
export class ExpositionBody {
  private readonly chunks?: Buffer[];
  private readonly gzip?: Gzip;
  private readonly compressed: Buffer[] = [];
  private readonly compressing?: Promise<void>;
  /** The pool's buffers this body took, in order; the last one is being written. */
  private readonly taken: Buffer[] = [];
  /** Bytes written into the last buffer taken. */
  private used = 0;
  /** Where the part of the last buffer not yet in `chunks` begins. */
  private viewStart = 0;

  constructor(
    wanted: { plain: boolean; gzip: boolean },
    private readonly pool?: BodyBufferPool,
  ) {
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
    if (typeof slice === 'string' && this.pool !== undefined) {
      const bytes = this.encode(slice, this.pool);
      // The compressor reads its input later, in the thread pool: a view it alone holds.
      this.gzip?.write(bytes);
      return;
    }
    const bytes = typeof slice === 'string' ? Buffer.from(slice, 'utf8') : slice;
    this.closeView();
    this.chunks?.push(bytes);
    this.gzip?.write(bytes);
  }

  /** The bodies, once the compressor has flushed. */
  async end(): Promise<ExpositionBodies> {
    const bodies: ExpositionBodies = {};
    this.closeView();
    if (this.chunks) bodies.plain = this.chunks;
    if (this.gzip) {
      this.gzip.end();
      await this.compressing;
      bodies.gzipped = Buffer.concat(this.compressed);
    }
    return bodies;
  }

  /**
   * Gives the pool's buffers back: call once nothing reads the plain body (every response has
   * sent it or given up) and the compressor has flushed (`end()` resolved). Once only.
   */
  release(): void {
    if (this.pool === undefined || this.taken.length === 0) return;
    this.pool.give(this.taken.splice(0));
  }

  /** Frees the compressor of a rendering that failed. Its buffers are not reused: the compressor may still read them. */
  destroy(): void {
    this.gzip?.destroy();
  }

  /**
   * Encodes a slice at the end of the pool buffer being written, or of a new one, and returns the
   * bytes written. The plain body gets one view per buffer (closed when the next is taken), not one
   * per slice: fewer objects to outlive the rendering.
   */
  private encode(slice: string, pool: BodyBufferPool): Buffer {
    if (slice === '') return EMPTY;
    let buffer = this.taken.at(-1);
    // UTF-8 takes at most 3 bytes per UTF-16 unit; only near the end is the exact length needed.
    const room = buffer === undefined ? 0 : buffer.length - this.used;
    if (room < slice.length * 3 && room < Buffer.byteLength(slice, 'utf8')) {
      if (Buffer.byteLength(slice, 'utf8') > BODY_BUFFER_BYTES) {
        // Larger than any pool buffer (a long help text): a buffer of its own.
        const bytes = Buffer.from(slice, 'utf8');
        this.closeView();
        this.chunks?.push(bytes);
        return bytes;
      }
      this.closeView();
      buffer = pool.take();
      this.taken.push(buffer);
      this.used = 0;
      this.viewStart = 0;
    }
    const from = this.used;
    this.used += (buffer as Buffer).write(slice, from, 'utf8');
    return (buffer as Buffer).subarray(from, this.used);
  }

  /** Adds the written, not yet viewed part of the last pool buffer to the plain body. */
  private closeView(): void {
    const buffer = this.taken.at(-1);
    if (buffer === undefined || this.used === this.viewStart) return;
    this.chunks?.push(buffer.subarray(this.viewStart, this.used));
    this.viewStart = this.used;
  }
}

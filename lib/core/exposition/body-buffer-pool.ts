/** The size of the buffers bodies are encoded into: a slice (16k characters) leaves little unused at the end of one. */
export const BODY_BUFFER_BYTES = 256 * 1024;

/**
 * Buffers that the bodies of scrapes are encoded into, reused from one scrape to the next.
 *
 * Why: a body of 100k series is 13 MB of buffers. Allocated anew at each scrape, that memory is
 * external to V8's heap, and V8 answers its growth with a full garbage collection every few
 * scrapes ("external memory pressure"): a 10 to 30 ms pause of the event loop on an app of that
 * size, the longest stall a scrape caused. Reused, the buffers are allocated once.
 *
 * A buffer goes back to the pool only when every response that was given a view of it is done
 * with it (see `SharedScrapes` and `ScrapeResponse.release`); one that never comes back is left to
 * the garbage collector. The pool keeps at most twice the buffers the largest body took.
 *
 * @example
 * const pool = new BodyBufferPool();
 * const buffer = pool.take();
 * const written = buffer.write('# HELP up Up\n');
 * socket.end(buffer.subarray(0, written), () => pool.give([buffer]));
 */
export class BodyBufferPool {
  private readonly free: Buffer[] = [];
  /** The most buffers one body has taken: what the pool keeps is bounded by it. */
  private largestBody = 0;

  /** A buffer of {@link BODY_BUFFER_BYTES}: a free one, or a new one. Its contents are arbitrary. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(BODY_BUFFER_BYTES);
  }

  /** The buffers of one body, no longer read by anything. */
  give(buffers: readonly Buffer[]): void {
    if (buffers.length > this.largestBody) this.largestBody = buffers.length;
    for (const buffer of buffers) {
      if (this.free.length >= 2 * this.largestBody) return;
      this.free.push(buffer);
    }
  }

  /** Buffers waiting to be reused. */
  get size(): number {
    return this.free.length;
  }
}

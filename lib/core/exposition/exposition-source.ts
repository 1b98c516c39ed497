import type { Registry } from 'prom-client';
import { acceptsProtobuf, type RenderedExposition, renderProtobuf } from './protobuf.js';
import { renderExposition, type ChunkSink } from './render-exposition.js';
import { formatOf, negotiate, renderRegistry } from './render-metrics.js';

/**
 * Where a scrape's exposition comes from: this process's registry, or (in a Node cluster) the
 * aggregate the primary makes of every worker's. The metrics endpoint and the metrics port serve
 * whichever the module provides under {@link EXPOSITION_SOURCE}, without knowing which it is.
 *
 * @example
 * ```ts
 * const source: ExpositionSource = new RegistryExposition(register);
 * const { contentType, body } = await source.render('application/openmetrics-text');
 * ```
 * @public
 */
export interface ExpositionSource {
  /** The exposition in the format `accept` asks for; only the families in `names`, when given. */
  render(accept: string | undefined, names?: string[]): Promise<RenderedExposition>;
  /**
   * The same exposition handed to `onSlice` a slice at a time, giving the event loop back between
   * slices: what scrapes use. Resolves once the last slice is handed over.
   */
  expose(accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink): Promise<void>;
}

/** Injection token of the app's {@link ExpositionSource}. */
export const EXPOSITION_SOURCE = Symbol('EXPOSITION_SOURCE');

/** The exposition of one registry: this process's metrics. */
export class RegistryExposition implements ExpositionSource {
  constructor(private readonly registry: Registry) {}

  render(accept: string | undefined, names?: string[]): Promise<RenderedExposition> {
    // Only a scraper that asks for protobuf gets it: the text formats stay as they were.
    if (acceptsProtobuf(accept)) return renderProtobuf(this.registry, names);
    return renderRegistry(this.registry, accept, names);
  }

  async expose(accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink): Promise<void> {
    if (acceptsProtobuf(accept)) {
      onSlice((await renderProtobuf(this.registry, names)).body);
      return;
    }
    await renderExposition(this.registry, formatOf(negotiate(accept)), names, onSlice);
  }
}

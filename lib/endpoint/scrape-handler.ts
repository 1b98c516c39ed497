import { Inject, Injectable, Logger } from '@nestjs/common';
import { EXPOSITION_SOURCE, type ExpositionSource } from '../core/exposition/exposition-source.js';
import { describeError } from '../core/describe-error.js';
import { PROMETHEUS_OPTIONS } from '../runtime/runtime.constants.js';
import type { ResolvedPrometheusOptions } from '../interfaces/resolved-options.interface.js';
import { type ScrapeResponse, scrapeFailure } from '../core/exposition/scrape-response.js';
import { SharedScrapes } from '../core/exposition/shared-scrapes.js';
import type { ChunkSink } from '../core/exposition/render-exposition.js';

/** Answers a scrape, on the app's port or the metrics port: this process's registry, or the cluster's. */
@Injectable()
export class ScrapeHandler {
  private readonly logger = new Logger('PrometheusModule');
  private readonly scrapes: SharedScrapes;
  private readonly render = (accept: string | undefined, names: string[] | undefined, onSlice: ChunkSink) =>
    this.source.expose(accept, names, onSlice);

  constructor(
    @Inject(EXPOSITION_SOURCE) private readonly source: ExpositionSource,
    @Inject(PROMETHEUS_OPTIONS) options: ResolvedPrometheusOptions,
  ) {
    this.scrapes = new SharedScrapes(options.maxConcurrentScrapes);
  }

  /** `names`: only these metric families (`?name[]=`). Never rejects. */
  async scrape(
    accept: string | undefined,
    acceptEncoding: string | undefined,
    names?: string[],
  ): Promise<ScrapeResponse> {
    try {
      return await this.scrapes.respond(accept, acceptEncoding, names, this.render);
    } catch (error) {
      this.logger.error(`scrape failed: ${describeError(error)}`);
      return scrapeFailure(503, 'metrics unavailable');
    }
  }
}

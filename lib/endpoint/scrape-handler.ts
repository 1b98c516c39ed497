import { Inject, Injectable, Logger } from '@nestjs/common';
import { ClusterWorker } from '../cluster/cluster-worker.js';
import type { SliceSink } from '../core/exposition/render-exposition.js';
import { describeError } from '../metrics/describe-error.js';
import { PROMETHEUS_OPTIONS } from '../prometheus.constants.js';
import type { ResolvedPrometheusOptions } from '../prometheus-options.js';
import { type ScrapeResponse, scrapeFailure } from './scrape-response.js';
import { SharedScrapes } from './shared-scrapes.js';

/** Answers a scrape, on the app's port or the metrics port: this process's registry, or the cluster's. */
@Injectable()
export class ScrapeHandler {
  private readonly logger = new Logger('PrometheusModule');
  private readonly scrapes: SharedScrapes;
  private readonly render = (accept: string | undefined, names: string[] | undefined, onSlice: SliceSink) =>
    this.source.expose(accept, names, onSlice);

  constructor(
    private readonly source: ClusterWorker,
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

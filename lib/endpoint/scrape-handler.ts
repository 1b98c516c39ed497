import { Injectable, Logger } from '@nestjs/common';
import { ClusterWorker } from '../cluster/cluster-worker.js';
import { type ScrapeResponse, scrapeFailure, scrapeResponse } from './scrape-response.js';

/** Answers a scrape, on the app's port or the metrics port: this process's registry, or the cluster's. */
@Injectable()
export class ScrapeHandler {
  private readonly logger = new Logger('PrometheusModule');

  constructor(private readonly source: ClusterWorker) {}

  /** `names`: only these metric families (`?name[]=`). */
  async scrape(
    accept: string | undefined,
    acceptEncoding: string | undefined,
    names?: string[],
  ): Promise<ScrapeResponse> {
    let rendered;
    try {
      rendered = await this.source.render(accept, names);
    } catch (error) {
      this.logger.error(`scrape failed: ${(error as Error)?.message ?? String(error)}`);
      return scrapeFailure(503, 'metrics unavailable');
    }
    return scrapeResponse(rendered, acceptEncoding);
  }
}

import type { RegistryContentType } from 'prom-client';

export interface ScrapeResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** The response to a scrape: the exposition, gzipped (`gzipped: true`) when the scraper accepts it (Prometheus does). */
export function scrapeResponse(contentType: RegistryContentType, body: Buffer, gzipped: boolean): ScrapeResponse {
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

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { requestedNames } from './render-metrics.js';
import { bodyLength, endWithBody, releaseWhenClosed, type ScrapeResponse } from './scrape-response.js';

export type ScrapeHandlerFn = (
  accept: string | undefined,
  acceptEncoding: string | undefined,
  names: string[] | undefined,
) => Promise<ScrapeResponse>;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Answers a request the metrics server does not (the status page's) and returns `true`, or returns `false`.
 *
 * @example
 * ```ts
 * const otherRoutes: OtherRoutesFn = (req, res) => (req.url === '/ping' ? (res.end('pong'), true) : false);
 * ```
 */
export type OtherRoutesFn = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * A bare HTTP server that answers GET (and HEAD) `path` with the exposition, what `otherRoutes`
 * answers (the status page), and every other request with 404, so that nothing but metrics is
 * reachable on the metrics port.
 */
export function createMetricsHttpServer(
  path: string,
  scrape: ScrapeHandlerFn,
  onError: (error: unknown) => void,
  otherRoutes?: OtherRoutesFn,
): Server {
  return createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q === -1 ? url : url.slice(0, q);
    if (pathname !== path) {
      if (otherRoutes?.(req, res)) return;
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
        .end('Method Not Allowed\n');
      return;
    }
    scrape(header(req, 'accept'), header(req, 'accept-encoding'), requestedNames(url)).then(
      response => {
        const { status, headers, body } = response;
        releaseWhenClosed(res, response);
        res.writeHead(status, { ...headers, 'Content-Length': bodyLength(body) });
        if (req.method === 'HEAD') res.end();
        else endWithBody(res, body);
      },
      (error: unknown) => {
        onError(error);
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Internal Server Error\n');
      },
    );
  });
}

/** Listens, and rejects with a message naming the port when it cannot (EADDRINUSE, EACCES). */
export function listen(server: Server, port: number, host: string | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(new Error(`${what} cannot listen on ${host ?? '*'}:${port}: ${error.code ?? error.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * The URL a listening server answers `path` on, for a log line.
 *
 * @example
 * serverUrl(server, '/metrics'); // 'http://127.0.0.1:9464/metrics'
 */
export function serverUrl(server: Server, path: string): string {
  const address = server.address();
  if (address === null || typeof address === 'string') return `${String(address)}${path}`;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}${path}`;
}

/** Closes the server, ending idle keep-alive connections (a scraper's) at once. */
export function close(server: Server): Promise<void> {
  return new Promise(resolve => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

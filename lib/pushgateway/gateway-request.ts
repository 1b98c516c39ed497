import { type Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface GatewayRequest {
  method: 'PUT' | 'POST' | 'DELETE';
  /** The Pushgateway's base URL. */
  url: string;
  jobName: string;
  groupings: Record<string, string>;
  /** The exposition (Prometheus text format); none for DELETE. */
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  agent: Agent;
}

/**
 * One path segment pair of the grouping key. A value with a `/` (or an empty one) cannot be a
 * plain segment: the Pushgateway takes it base64url-encoded after `name@base64`.
 */
function segment(name: string, value: string): string {
  if (value === '') return `/${name}@base64/=`;
  if (value.includes('/')) return `/${name}@base64/${Buffer.from(value).toString('base64url')}`;
  return `/${name}/${encodeURIComponent(value)}`;
}

/** The URL of a group: `<base>/metrics/job/<job>{/<label>/<value>}`. */
export function groupUrl(base: string, jobName: string, groupings: Record<string, string>): URL {
  const url = new URL(base);
  const prefix = url.pathname.replace(/\/+$/, '');
  let path = `${prefix}/metrics${segment('job', jobName)}`;
  for (const [name, value] of Object.entries(groupings)) path += segment(name, value);
  url.pathname = path;
  return url;
}

/** Most characters of an error body kept for the error's message: a gateway or proxy may send megabytes. */
export const MAX_ERROR_BODY_CHARS = 4096;

/**
 * The gateway's URL as it may appear in a log line: without the `user:password@` of its userinfo
 * (Node sends those as Basic auth), nor a query string or fragment.
 *
 * @example
 * loggableUrl('http://pusher:secret@gateway:9091/base?token=x'); // 'http://gateway:9091/base'
 */
export function loggableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname === '/' ? parsed.origin : `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/**
 * Sends one request to the Pushgateway; rejects on a network error, a status >= 400, or when the
 * whole exchange (connecting, sending, reading the answer) takes longer than `timeoutMs`. A socket
 * timeout alone would not do: a gateway that trickles a byte now and then is never idle.
 */
export function gatewayRequest(r: GatewayRequest): Promise<void> {
  const url = groupUrl(r.url, r.jobName, r.groupings);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
  if (r.body !== undefined) {
    headers['Content-Type'] = 'text/plain; version=0.0.4; charset=utf-8';
    headers['Content-Length'] = Buffer.byteLength(r.body);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve();
    };
    const req = send(url, { method: r.method, headers, agent: r.agent }, res => {
      const status = res.statusCode ?? 0;
      if (status < 400) {
        // The answer of a successful push says nothing we need: drain it so the socket is reused.
        res.resume();
        res.on('end', () => finish());
        res.on('error', finish);
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.length < MAX_ERROR_BODY_CHARS) return;
        // Enough to say what went wrong: the rest of the body is not read at all.
        finish(new Error(`push failed with status ${status}, ${text.slice(0, MAX_ERROR_BODY_CHARS).trim()}`));
        res.destroy();
      });
      res.on('end', () => finish(new Error(`push failed with status ${status}, ${text.trim()}`)));
      res.on('error', finish);
    });
    const deadline = setTimeout(() => {
      const error = new Error(`Pushgateway request timed out after ${r.timeoutMs} ms`);
      finish(error);
      req.destroy(error);
    }, r.timeoutMs);
    req.on('error', finish);
    req.end(r.body);
  });
}

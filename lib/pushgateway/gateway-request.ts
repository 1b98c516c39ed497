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

/** Sends one request to the Pushgateway; rejects on a network error, a timeout or a status >= 400. */
export function gatewayRequest(r: GatewayRequest): Promise<void> {
  const url = groupUrl(r.url, r.jobName, r.groupings);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
  if (r.body !== undefined) {
    headers['Content-Type'] = 'text/plain; version=0.0.4; charset=utf-8';
    headers['Content-Length'] = Buffer.byteLength(r.body);
  }
  return new Promise((resolve, reject) => {
    const req = send(url, { method: r.method, headers, agent: r.agent, timeout: r.timeoutMs }, res => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 400) reject(new Error(`push failed with status ${status}, ${text.trim()}`));
        else resolve();
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`Pushgateway request timed out after ${r.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

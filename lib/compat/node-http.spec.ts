import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sentContentLength } from './node-http.js';

/**
 * What `sentContentLength` reads from the response of one request to a server of the running
 * Node, once the response closed, with the Content-Length header the client received.
 */
async function afterResponse(
  respond: (res: ServerResponse) => void,
  method = 'GET',
): Promise<{ read: number | null | undefined; received: string | null; body: string }> {
  let read: number | null | undefined;
  let closed!: () => void;
  const close = new Promise<void>(resolve => (closed = resolve));
  const server = createServer((_req, res) => {
    res.on('close', () => {
      read = sentContentLength(res);
      closed();
    });
    respond(res);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/`, { method });
    const body = await response.text();
    await close;
    return { read, received: response.headers.get('content-length'), body };
  } finally {
    server.closeAllConnections();
    await new Promise(resolve => server.close(resolve));
  }
}

describe("sentContentLength (Node's OutgoingMessage keeps _contentLength)", () => {
  it('reads the Content-Length of headers passed to writeHead() in an object, which getHeader() cannot see', async () => {
    let seenByGetHeader: unknown = 'not read';
    const { read, received, body } = await afterResponse(res => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '13' });
      seenByGetHeader = res.getHeader('content-length');
      res.end('{"id":42,"x"}');
    });
    expect(body).toBe('{"id":42,"x"}');
    expect(received).toBe('13');
    expect(read).toBe(13);
    expect(seenByGetHeader).toBeUndefined();
  });

  it('reads a Content-Length set with setHeader(), and in an array passed to writeHead()', async () => {
    expect((await afterResponse(res => res.setHeader('Content-Length', 3).end('abc'))).read).toBe(3);
    expect((await afterResponse(res => res.writeHead(200, ['Content-Length', '2']).end('xy'))).read).toBe(2);
  });

  it('reads the Content-Length Node adds itself for a body sent in one end()', async () => {
    const { read, received } = await afterResponse(res => res.end('four'));
    expect(received).toBe('4');
    expect(read).toBe(4);
  });

  it('reads the Content-Length of a HEAD response, which has no body', async () => {
    const { read, received } = await afterResponse(res => res.writeHead(200, { 'Content-Length': '5' }).end(), 'HEAD');
    expect(received).toBe('5');
    expect(read).toBe(5);
  });

  it('gives null for a chunked response, which has no Content-Length', async () => {
    const { read, received, body } = await afterResponse(res => {
      res.write('ab');
      res.end('cd');
    });
    expect(body).toBe('abcd');
    expect(received).toBeNull();
    expect(read).toBeNull();
  });
});

/** One HTTPS request over real TLS, its whole answer collected: the tests' shared client. */
import type { IncomingHttpHeaders } from 'node:http';
import { request, type RequestOptions } from 'node:https';

export interface HttpsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The client's source port, to match the request with the `source` of its security event. */
  localPort: number;
}

export function httpsCall(options: RequestOptions, body?: string | Buffer): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const localPort = res.socket.localPort ?? 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), localPort }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The body as JSON, or its text when it is not JSON; null when empty. */
export function jsonOrText(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * DNS over HTTPS over HTTP/2 (RFC 8484 §5.2, RFC 9113) for clients that offer only `h2` in
 * ALPN, as DoH stub resolvers do. The HTTPS listener keeps HTTP/1.1 for everyone who offers it
 * (browsers, curl, the admin API and WebSockets stay on the stack they were tested on) and hands
 * an h2-only TLS connection here, where an HTTP/2 session serves /dns-query and nothing else.
 *
 * Node's HTTP/2 server runs a session over any connected stream socket, so the TLS socket the
 * HTTPS listener accepted (and admitted, and checked for bans) is passed in as is.
 */
import { createServer, constants, type Http2Server, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { answerDoh, DOH_MAX_MESSAGE, DOH_PATH, type DohDeps } from './doh-routes.ts';

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE, HTTP2_HEADER_AUTHORIZATION } = constants;

export interface DohH2 {
  /** Serves an accepted TLS connection whose ALPN is h2. */
  serve(socket: TLSSocket): void;
  close(): void;
}

export function createDohH2(deps: DohDeps, opts: { idleTimeoutMs?: number } = {}): DohH2 {
  const server: Http2Server = createServer({
    // Bounds per session: streams at once, header block size, and no push.
    settings: { maxConcurrentStreams: 64, maxHeaderListSize: 16 * 1024, enablePush: false },
    maxSessionMemory: 4,
  });
  // An idle session is closed (GOAWAY), so h2 connections cannot be held open for free.
  server.on('session', (session) => session.setTimeout(opts.idleTimeoutMs ?? 30_000, () => session.close()));
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    onStream(deps, stream, headers).catch(() => {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
  });
  server.on('sessionError', () => undefined);
  return {
    serve(socket) {
      server.emit('connection', socket);
    },
    close() {
      server.close();
    },
  };
}

function respond(stream: ServerHttp2Stream, status: number, headers: Record<string, string>, body: Buffer | string): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ [HTTP2_HEADER_STATUS]: status, ...headers });
  stream.end(body);
}

async function onStream(deps: DohDeps, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
  const method = String(headers[HTTP2_HEADER_METHOD] ?? '');
  const url = String(headers[HTTP2_HEADER_PATH] ?? '');
  if (url.split('?')[0] !== DOH_PATH) {
    respond(stream, 404, { 'content-type': 'application/json' }, JSON.stringify({ error: 'only /dns-query is served over HTTP/2 here; use HTTP/1.1 for the rest' }));
    return;
  }
  let body: Buffer | null = null;
  if (method === 'POST') {
    body = await readBody(stream);
    if (body === null) {
      respond(stream, 413, { 'content-type': 'application/json' }, JSON.stringify({ error: `a DNS message is at most ${DOH_MAX_MESSAGE} bytes` }));
      return;
    }
  }
  const auth = headers[HTTP2_HEADER_AUTHORIZATION];
  const contentType = headers[HTTP2_HEADER_CONTENT_TYPE];
  const r = await answerDoh(deps, {
    method,
    url,
    authorization: typeof auth === 'string' ? auth : undefined,
    contentType: typeof contentType === 'string' ? contentType : undefined,
    socket: stream.session!.socket as TLSSocket,
    body,
  });
  respond(stream, r.status, r.headers, r.body);
}

/** The request body, or null past the size bound (the stream is then reset). */
function readBody(stream: ServerHttp2Stream): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size > DOH_MAX_MESSAGE) {
        stream.removeAllListeners('data');
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', () => resolve(null));
    stream.once('aborted', () => resolve(null));
  });
}

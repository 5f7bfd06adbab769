/** A small HTTPS JSON client for the admin API tests (real TLS, the gateway's own CA), and TOTP codes. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import type { TestGateway } from './gateway.ts';
import { httpsCall, jsonOrText } from './https-call.ts';

export interface ApiResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test assertions walk arbitrary JSON
  body: any;
  headers: Record<string, string | string[] | undefined>;
  /** Local port of the request's socket, to match event sources. */
  localPort: number;
}

export class AdminClient {
  readonly #port: number;
  readonly #ca: string;

  constructor(t: TestGateway) {
    this.#port = t.port('https');
    this.#ca = readFileSync(join(t.dataDir, 'pki', 'ca.pem'), 'utf8');
  }

  async call(method: string, path: string, body?: unknown, token?: string): Promise<ApiResponse> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    // A fresh connection per call (agent: false) so each request has its own source port.
    const r = await httpsCall({ host: '127.0.0.1', port: this.#port, method, path, ca: this.#ca, servername: 'localhost', headers, agent: false }, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, body: jsonOrText(r.body), headers: r.headers, localPort: r.localPort };
  }
}

/** The RFC 6238 code for `secret` at now + `steps` × 30 s. */
export function totpCode(secret: string, steps = 0): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30, timestamp: Date.now() + steps * 30_000 });
}

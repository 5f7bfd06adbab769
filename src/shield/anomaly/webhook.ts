/**
 * Alarm webhooks: a JSON POST per alarm and clear, fire-and-forget. The detector never waits
 * on it: each request has a timeout, at most `maxInFlight` run at once (beyond, the notice is
 * dropped rather than queued without bound), and every failure is reported to `onFailure`.
 */
export interface WebhookSettings {
  url: string;
  timeoutMs: number;
  maxInFlight: number;
}

export type WebhookFailure = { reason: 'status'; status: number } | { reason: 'error'; error: string } | { reason: 'dropped'; inFlight: number };

export class Webhook {
  readonly #s: WebhookSettings;
  readonly #onFailure: (failure: WebhookFailure) => void;
  #inFlight = 0;
  readonly #pending = new Set<Promise<void>>();

  constructor(settings: WebhookSettings, onFailure: (failure: WebhookFailure) => void) {
    this.#s = settings;
    this.#onFailure = onFailure;
  }

  post(body: unknown): void {
    if (this.#inFlight >= this.#s.maxInFlight) {
      this.#onFailure({ reason: 'dropped', inFlight: this.#inFlight });
      return;
    }
    this.#inFlight++;
    const p = this.#send(JSON.stringify(body)).finally(() => {
      this.#inFlight--;
      this.#pending.delete(p);
    });
    this.#pending.add(p);
  }

  /** Resolves once the requests in flight have ended (for stop and tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async #send(json: string): Promise<void> {
    try {
      const res = await fetch(this.#s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'palisade-anomaly' },
        body: json,
        redirect: 'error',
        signal: AbortSignal.timeout(this.#s.timeoutMs),
      });
      // The body is not read; release the connection.
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) this.#onFailure({ reason: 'status', status: res.status });
    } catch (err) {
      this.#onFailure({ reason: 'error', error: err instanceof Error ? err.name === 'TimeoutError' ? 'timeout' : err.message : String(err) });
    }
  }
}

/** Flight retransmission timers (RFC 6347 §4.2.4): 1 s initial, doubling, capped, bounded tries. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FlightTimer } from '../../src/protocols/dtls/flight.ts';

describe('FlightTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends at 0, then after 1, 2, 4, 8 ... s, capped at maxMs, and gives up after maxTries', () => {
    const sends: number[] = [];
    let gaveUp = 0;
    const t = new FlightTimer(() => sends.push(Date.now()), () => gaveUp++, { initialMs: 1000, maxMs: 4000, maxTries: 5 });
    const start = Date.now();
    t.start(true);
    vi.advanceTimersByTime(60_000);
    expect(sends.map((s) => s - start)).toEqual([0, 1000, 3000, 7000, 11000, 15000]);
    expect(gaveUp).toBe(1);
  });

  it('defaults: 1 s initial, 60 s cap', () => {
    const sends: number[] = [];
    const t = new FlightTimer(() => sends.push(Date.now()), () => {}, { maxTries: 8 });
    const start = Date.now();
    t.start(true);
    vi.advanceTimersByTime(400_000);
    const gaps = sends.slice(1).map((s, i) => s - sends[i]!);
    expect(sends[0]! - start).toBe(0);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  });

  it('the final flight has no timer; a peer retransmission resends it, at most every 250 ms', () => {
    let sends = 0;
    const t = new FlightTimer(() => sends++, () => {});
    t.start(false);
    vi.advanceTimersByTime(120_000);
    expect(sends).toBe(1);
    vi.advanceTimersByTime(300);
    t.resendOnPeerRetransmit();
    t.resendOnPeerRetransmit();
    expect(sends).toBe(2);
    vi.advanceTimersByTime(300);
    t.resendOnPeerRetransmit();
    expect(sends).toBe(3);
  });

  it('stop() cancels the timer', () => {
    let sends = 0;
    let gaveUp = 0;
    const t = new FlightTimer(() => sends++, () => gaveUp++);
    t.start(true);
    t.stop();
    vi.advanceTimersByTime(600_000);
    expect(sends).toBe(1);
    expect(gaveUp).toBe(0);
  });
});

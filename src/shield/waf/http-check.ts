/**
 * The WAF in front of the HTTPS listener's routes (issue 5, point 3): the request line and headers
 * of every request (path, each query parameter, User-Agent, Referer, cookies…) through the rule
 * engine, before routing and before any body is read. Bodies are inspected where they become
 * device messages (the payload step), so an operator's login or a CSR is never scored as text.
 * `shield.waf.http.mode`: block (403 and `waf.blocked`), log (`waf.hit`), off.
 */
import type { WafConfig } from '../../config/waf.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import { Waf } from './engine.ts';
import { describeHits } from './step.ts';

export interface HttpRequestHead {
  method: string;
  /** Path and query as received (`req.url`). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  source: string;
}

/** Returns a check that says whether to refuse the request; null when the HTTP WAF is off. */
export function createHttpWafCheck(config: WafConfig, events: Pick<EventLog, 'record'>): ((req: HttpRequestHead) => boolean) | null {
  const mode = config.http.mode;
  if (mode === 'off') return null;
  const waf = new Waf({ paranoia: config.paranoia, threshold: config.threshold });
  return (req) => {
    const q = req.url.indexOf('?');
    const v = waf.inspectHttp({ method: req.method, path: q < 0 ? req.url : req.url.slice(0, q), query: q < 0 ? '' : req.url.slice(q + 1), headers: req.headers, body: null });
    if (v.hits.length === 0) return false;
    const block = v.anomalous && mode === 'block';
    events.record(block ? 'waf.blocked' : 'waf.hit', 'warning', { source: req.source, detail: { protocol: 'http', method: req.method, path: req.url.slice(0, 256), score: v.score, rules: [...new Set(v.hits.map((h) => h.ruleId))], hits: describeHits(v.hits) } });
    return block;
  };
}

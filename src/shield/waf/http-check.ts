/**
 * The WAF in front of the HTTPS listener's routes (issue 5, point 3): the request line and headers
 * of every request (path, each query parameter, User-Agent, Referer, cookies…) through the rule
 * engine, before routing and before any body is read. Bodies are inspected where they become
 * device messages (the payload step), so an operator's login or a CSR is never scored as text.
 * `shield.waf.http.mode`: block (403 and `waf.blocked`), log (`waf.hit`), off.
 * `shield.waf.engine` modsecurity or both: ModSecurity with the CRS decides as well (its events
 * carry `engine: 'modsecurity'` and the CRS rule ids; only a request past CRS's inbound anomaly
 * threshold is recorded, since CRS's sub-threshold notices fire on ordinary clients).
 */
import type { WafConfig } from '../../config/waf.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import { Waf } from './engine.ts';
import { ModSecurityWaf } from './modsecurity.ts';
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
  const waf = config.engine === 'modsecurity' ? null : new Waf({ paranoia: config.paranoia, threshold: config.threshold });
  const modsec = config.engine === 'palisade' ? null : new ModSecurityWaf({ paranoia: config.paranoia, threshold: config.threshold });
  const viaModSecurity = (req: HttpRequestHead): boolean => {
    if (modsec === null) return false;
    const m = modsec.inspectHttp(req);
    if (!m.blocked) return false;
    events.record(mode === 'block' ? 'waf.blocked' : 'waf.hit', 'warning', { source: req.source, detail: { engine: 'modsecurity', protocol: 'http', method: req.method, path: req.url.slice(0, 256), rules: m.ruleIds } });
    return mode === 'block';
  };
  return (req) => {
    if (waf === null) return viaModSecurity(req);
    const q = req.url.indexOf('?');
    const v = waf.inspectHttp({ method: req.method, path: q < 0 ? req.url : req.url.slice(0, q), query: q < 0 ? '' : req.url.slice(q + 1), headers: req.headers, body: null });
    if (v.hits.length === 0) return viaModSecurity(req);
    const block = v.anomalous && mode === 'block';
    events.record(block ? 'waf.blocked' : 'waf.hit', 'warning', { source: req.source, detail: { protocol: 'http', method: req.method, path: req.url.slice(0, 256), score: v.score, rules: [...new Set(v.hits.map((h) => h.ruleId))], hits: describeHits(v.hits) } });
    return block || viaModSecurity(req);
  };
}

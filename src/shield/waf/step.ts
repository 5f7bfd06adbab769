/**
 * The WAF as a step of the shield's inspector: each device message's payload (JSON-aware, every
 * string value) through the rule engine at the segment's paranoia level. Mode per segment:
 * `block` refuses an anomalous message (the inspector records `waf.blocked` with the hits),
 * `log` lets it pass with a `waf.hit` event, `off` skips it. Hits below the threshold are
 * logged as `waf.hit` as well, so an operator sees what is building up.
 * `shield.waf.engine` modsecurity or both: ModSecurity with the CRS inspects the payload too
 * (as a POST to /mqtt/<topic>); its refusal carries `engine: 'modsecurity'` and the CRS rule ids.
 */
import type { WafConfig } from '../../config/waf.ts';
import type { EventLog } from '../../core/events/event-log.ts';
import type { InboundMessage, InspectionVerdict } from '../../core/messaging/inspection.ts';
import type { InspectionStep } from '../inspector.ts';
import { Waf } from './engine.ts';
import { ModSecurityWaf } from './modsecurity.ts';
import { TopicRules, type TopicRule } from './topic-rules.ts';
import type { ParanoiaLevel, WafHit } from './types.ts';

const OK: InspectionVerdict = { ok: true };

/** What an event says of the hits: rule, where, and a short excerpt (never the whole payload). */
export function describeHits(hits: readonly WafHit[]): Array<Record<string, string>> {
  return hits.slice(0, 8).map((h) => ({ rule: h.ruleId, category: h.category, location: h.location, match: h.match }));
}

/**
 * A frame with a NUL byte is binary (CBOR, protobuf, raw sensor words), like one that is not
 * UTF-8, which the engine already leaves alone: text rules read text. Read as text, a counter
 * byte that happens to be '.' or '/' after a NUL looked like a "null-byte path" (1.2 % of the
 * MQTT benchmark's 32-byte frames were blocked). A NUL adds no way around the WAF that an
 * invalid UTF-8 byte did not already give; JSON and text never hold a raw NUL.
 */
function isBinary(payload: Buffer): boolean {
  return payload.indexOf(0) !== -1;
}

export function createWafStep(config: WafConfig, events: Pick<EventLog, 'record'>): InspectionStep {
  const engines = new Map<ParanoiaLevel, Waf>();
  const engine = (pl: ParanoiaLevel): Waf => {
    let w = engines.get(pl);
    if (!w) {
      w = new Waf({ paranoia: pl, threshold: config.threshold });
      engines.set(pl, w);
    }
    return w;
  };
  const modsecs = new Map<ParanoiaLevel, ModSecurityWaf>();
  const modsec = (pl: ParanoiaLevel): ModSecurityWaf => {
    let w = modsecs.get(pl);
    if (!w) {
      w = new ModSecurityWaf({ paranoia: pl, threshold: config.threshold });
      modsecs.set(pl, w);
    }
    return w;
  };
  // Loaded now, so a missing addon or CRS fails the start, not the first message.
  if (config.engine !== 'palisade') modsec(config.paranoia);
  const viaModSecurity = (m: InboundMessage, pl: ParanoiaLevel, mode: 'block' | 'log'): InspectionVerdict => {
    const r = modsec(pl).inspectPayload(m.topic, m.payload, m.source);
    if (!r.blocked) return OK;
    if (mode === 'block') return { ok: false, reason: 'blocked', ruleIds: r.ruleIds, detail: { engine: 'modsecurity' } };
    events.record('waf.hit', 'warning', { principal: m.principal.id, source: m.source, detail: { engine: 'modsecurity', protocol: m.protocol, topic: m.topic.slice(0, 256), mode, rules: r.ruleIds } });
    return OK;
  };
  return (m: InboundMessage): InspectionVerdict => {
    const seg = config.segments[m.principal.segment];
    const mode = seg?.mode ?? config.mode;
    if (mode === 'off' || m.payload.length === 0 || isBinary(m.payload)) return OK;
    if (config.engine === 'modsecurity') return viaModSecurity(m, seg?.paranoia ?? config.paranoia, mode);
    const v = engine(seg?.paranoia ?? config.paranoia).inspectPayload(m.payload);
    if (v.hits.length === 0) return config.engine === 'both' ? viaModSecurity(m, seg?.paranoia ?? config.paranoia, mode) : OK;
    if (v.anomalous && mode === 'block') {
      return { ok: false, reason: 'blocked', ruleIds: [...new Set(v.hits.map((h) => h.ruleId))], detail: { score: v.score, hits: describeHits(v.hits) } };
    }
    events.record('waf.hit', 'warning', { principal: m.principal.id, source: m.source, detail: { protocol: m.protocol, topic: m.topic.slice(0, 256), mode, score: v.score, anomalous: v.anomalous, hits: describeHits(v.hits) } });
    return config.engine === 'both' ? viaModSecurity(m, seg?.paranoia ?? config.paranoia, mode) : OK;
  };
}

/**
 * The operator's per-topic rules (size caps, JSON Schemas): explicit contracts, so they refuse in
 * every mode; null when none are configured.
 */
export function createTopicRulesStep(rules: readonly TopicRule[]): InspectionStep | null {
  if (rules.length === 0) return null;
  const compiled = new TopicRules(rules);
  return (m) => {
    const hits = compiled.check(m.topic, m.payload);
    if (hits.length === 0) return OK;
    return { ok: false, reason: 'invalid', ruleIds: [...new Set(hits.map((h) => h.ruleId))], detail: { hits: describeHits(hits) } };
  };
}

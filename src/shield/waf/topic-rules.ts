/**
 * Per-topic payload rules (issue 5, point 3: "per-topic JSON Schema validation and size
 * limits"). An operator lists `{ topic: <MQTT filter>, maxBytes?, schema? }`; every rule whose
 * filter matches a message's topic (MQTT 5.0 §4.7 matching, the `$` rule included) is checked.
 * Schemas are compiled once, at construction, with Ajv (JSON Schema draft-07 / 2019-09 subset
 * Ajv 8 supports by default). A payload on a schema topic that is not JSON at all is a hit too.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { ErrorCodes, PalisadeError } from '../../core/errors.ts';
import { parseTopicFilter, topicMatches } from '../../core/messaging/topics.ts';
import type { WafHit } from './types.ts';

export interface TopicRule {
  /** MQTT topic filter (`+` and `#` wildcards). */
  topic: string;
  /** Largest payload accepted on matching topics, in bytes. */
  maxBytes?: number;
  /** JSON Schema the payload (parsed as JSON) must satisfy. */
  schema?: Record<string, unknown>;
}

/** Rule ids: 920390 is CRS's "argument size exceeded"; 9601xx are Palisade's schema rules. */
export const TOPIC_RULE_IDS = { size: '920390', notJson: '960100', schema: '960110' } as const;

interface Compiled {
  rule: TopicRule;
  validate: ValidateFunction | null;
}

// Generous limits for a filter given in configuration (MQTT allows 65535 bytes).
const FILTER_LIMITS = { maxTopicLength: 65535, maxTopicLevels: 128 };

export class TopicRules {
  private readonly compiled: Compiled[];

  /** Throws PalisadeError(CONFIG_INVALID) for a bad filter, size or schema. */
  constructor(rules: readonly TopicRule[]) {
    const ajv = new Ajv({ allErrors: false, strict: false });
    this.compiled = rules.map((rule, i) => {
      try {
        parseTopicFilter(rule.topic, FILTER_LIMITS);
      } catch (err) {
        throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `topic rule ${i}: invalid topic filter`, { cause: err, detail: { topic: rule.topic } });
      }
      if (rule.maxBytes !== undefined && (!Number.isInteger(rule.maxBytes) || rule.maxBytes < 0)) {
        throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `topic rule ${i}: maxBytes must be a non-negative integer`, { detail: { topic: rule.topic } });
      }
      let validate: ValidateFunction | null = null;
      if (rule.schema !== undefined) {
        try {
          validate = ajv.compile(rule.schema);
        } catch (err) {
          throw new PalisadeError(ErrorCodes.CONFIG_INVALID, `topic rule ${i}: invalid JSON Schema`, { cause: err, detail: { topic: rule.topic, why: err instanceof Error ? err.message : String(err) } });
        }
      }
      return { rule, validate };
    });
  }

  get size(): number {
    return this.compiled.length;
  }

  /** Hits (category 'size' or 'schema') for a message on `topic`; empty when it passes. */
  check(topic: string, payload: Buffer): WafHit[] {
    const hits: WafHit[] = [];
    let parsed: { ok: true; value: unknown } | { ok: false } | null = null;
    for (const { rule, validate } of this.compiled) {
      if (!topicMatches(rule.topic, topic)) continue;
      if (rule.maxBytes !== undefined && payload.length > rule.maxBytes) {
        hits.push({
          ruleId: TOPIC_RULE_IDS.size, category: 'size', severity: 'critical', paranoia: 1, location: `topic:${topic.slice(0, 64)}`,
          match: `${payload.length} bytes > ${rule.maxBytes} (${rule.topic})`.slice(0, 64),
        });
        continue; // an oversized payload is not parsed
      }
      if (validate === null) continue;
      if (parsed === null) {
        try {
          parsed = { ok: true, value: JSON.parse(payload.toString('utf8')) as unknown };
        } catch {
          parsed = { ok: false };
        }
      }
      if (!parsed.ok) {
        hits.push({ ruleId: TOPIC_RULE_IDS.notJson, category: 'schema', severity: 'critical', paranoia: 1, location: 'payload', match: `not JSON (${rule.topic})`.slice(0, 64) });
        continue;
      }
      if (!validate(parsed.value)) {
        const e = validate.errors?.[0];
        const where = e === undefined ? '' : `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? ''}`;
        hits.push({
          ruleId: TOPIC_RULE_IDS.schema, category: 'schema', severity: 'critical', paranoia: 1,
          location: `json:$${(e?.instancePath ?? '').replace(/\//g, '.')}`.slice(0, 80), match: where.slice(0, 64),
        });
      }
    }
    return hits;
  }
}

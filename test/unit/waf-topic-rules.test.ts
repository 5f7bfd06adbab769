/**
 * Per-topic payload rules (issue 5, point 3): MQTT filters select the rules, a size limit and a
 * JSON Schema (compiled once with ajv) are checked, and a non-JSON payload on a schema topic is
 * a hit; a bad filter or schema is a configuration error.
 */
import { describe, expect, it } from 'vitest';
import { TOPIC_RULE_IDS, TopicRules } from '../../src/shield/waf/topic-rules.ts';
import { ErrorCodes, PalisadeError } from '../../src/core/errors.ts';

const reading = {
  type: 'object',
  required: ['deviceId', 'temperature'],
  properties: { deviceId: { type: 'string', maxLength: 32 }, temperature: { type: 'number', minimum: -50, maximum: 100 } },
  additionalProperties: false,
};
const rules = new TopicRules([
  { topic: 'sensors/+/reading', schema: reading, maxBytes: 256 },
  { topic: 'cameras/#', maxBytes: 64 },
]);
const b = (o: unknown): Buffer => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));

describe('topic rules', () => {
  it('passes a conforming payload and ignores topics no filter matches', () => {
    expect(rules.check('sensors/env-1/reading', b({ deviceId: 'env-1', temperature: 21.5 }))).toEqual([]);
    expect(rules.check('sensors/env-1/status', b('anything at all'))).toEqual([]);
    expect(rules.check('$SYS/cameras/x', b('x'.repeat(1000)))).toEqual([]); // '#' does not reach '$' topics
  });

  it('reports a schema violation with its JSON location', () => {
    const hits = rules.check('sensors/env-1/reading', b({ deviceId: 'env-1', temperature: 'hot' }));
    expect(hits).toEqual([expect.objectContaining({ ruleId: TOPIC_RULE_IDS.schema, category: 'schema', location: 'json:$.temperature' })]);
    expect(rules.check('sensors/env-1/reading', b({ deviceId: 'env-1', temperature: 20, extra: 1 }))[0]?.category).toBe('schema');
    expect(rules.check('sensors/env-1/reading', b({ deviceId: 'env-1' }))[0]?.ruleId).toBe(TOPIC_RULE_IDS.schema);
  });

  it('treats a payload that is not JSON on a schema topic as a hit', () => {
    expect(rules.check('sensors/env-1/reading', b('temperature=21.5'))).toEqual([expect.objectContaining({ ruleId: TOPIC_RULE_IDS.notJson, category: 'schema' })]);
  });

  it('enforces maxBytes before parsing', () => {
    expect(rules.check('cameras/front/event', Buffer.alloc(64))).toEqual([]);
    const hits = rules.check('cameras/front/event', Buffer.alloc(65));
    expect(hits).toEqual([expect.objectContaining({ ruleId: TOPIC_RULE_IDS.size, category: 'size', severity: 'critical' })]);
    expect(rules.check('sensors/a/reading', b({ deviceId: 'a'.repeat(300), temperature: 1 })).map((h) => h.category)).toEqual(['size']);
  });

  it('rejects a bad filter, size or schema at construction', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof PalisadeError ? e.code : 'other';
      }
      return undefined;
    };
    expect(code(() => new TopicRules([{ topic: 'a/#/b' }]))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(code(() => new TopicRules([{ topic: 'a', maxBytes: -1 }]))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(code(() => new TopicRules([{ topic: 'a', schema: { type: 'no-such-type' } }]))).toBe(ErrorCodes.CONFIG_INVALID);
    expect(new TopicRules([]).size).toBe(0);
  });
});

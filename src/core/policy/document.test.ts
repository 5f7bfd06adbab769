import { describe, expect, it } from 'vitest';
import { ErrorCodes, PalisadeError } from '../errors.ts';
import { parsePolicyConfig, parsePolicyDocument } from './document.ts';

const valid = {
  name: 'cams',
  version: '2026-11',
  description: 'camera grants',
  statements: [
    { sid: 'tele', effect: 'allow', actions: ['mqtt:publish', 'http:*'], resources: ['video/${device.id}/#'] },
    { effect: 'deny', actions: ['*'], resources: ['/admin/**'], conditions: { quarantined: false, firmwareCurrent: true, certDaysLeftAtLeast: 1.5, sourceCidr: ['10.0.0.0/8', '::1'] } },
  ],
};

function failure(input: unknown): PalisadeError {
  try {
    parsePolicyDocument(input);
  } catch (err) {
    expect(err).toBeInstanceOf(PalisadeError);
    const e = err as PalisadeError;
    expect(e.code).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error('expected parsePolicyDocument to throw');
}

function withStatement(patch: Record<string, unknown>): unknown {
  return { ...valid, statements: [{ effect: 'allow', actions: ['mqtt:publish'], resources: ['a'], ...patch }] };
}

describe('parsePolicyDocument', () => {
  it('accepts a valid document and returns a copy', () => {
    const input = structuredClone(valid);
    const doc = parsePolicyDocument(input);
    expect(doc).toEqual(valid);
    input.statements[0]!.resources.push('#');
    expect(doc.statements[0]!.resources).toEqual(['video/${device.id}/#']);
  });

  it('names the path of the problem in one line', () => {
    expect(failure(null).message).toMatch(/must be a JSON object/);
    expect(failure({ ...valid, name: 'bad name' }).message).toMatch(/^policy: name: /);
    expect(failure({ ...valid, version: '2012-10-17' }).message).toBe('policy cams: version: must be "2026-11", got "2012-10-17"');
    expect(failure({ ...valid, statement: [] }).detail).toEqual({ path: 'statement' });
    expect(failure({ ...valid, statements: {} }).detail).toEqual({ path: 'statements' });
    expect(failure({ ...valid, statements: [42] }).detail).toEqual({ path: 'statements[0]' });
    expect(failure(withStatement({ effect: 'Allow' })).detail).toEqual({ path: 'statements[0].effect' });
    expect(failure(withStatement({ extra: 1 })).detail).toEqual({ path: 'statements[0].extra' });
    expect(failure(withStatement({ actions: 'mqtt:publish' })).detail).toEqual({ path: 'statements[0].actions' });
    expect(failure(withStatement({ actions: undefined })).detail).toEqual({ path: 'statements[0].actions' });
    expect(failure(withStatement({ resources: [1] })).detail).toEqual({ path: 'statements[0].resources[0]' });
  });

  it('refuses unknown actions with a clear message', () => {
    const e = failure(withStatement({ actions: ['mqtt:publish', 'mqtt:pub'] }));
    expect(e.detail).toEqual({ path: 'statements[0].actions[1]' });
    expect(e.message).toMatch(/^policy cams: statements\[0\]\.actions\[1\]: unknown action "mqtt:pub"; use one of mqtt:connect, /);
    expect(e.message).toMatch(/"mqtt:\*", or "\*"$/);
    for (const bad of ['mqtt:pub*', 'ftp:*', 'MQTT:publish', '', '**', 'mqtt', 'admin:delete']) {
      expect(failure(withStatement({ actions: [bad] })).detail).toEqual({ path: 'statements[0].actions[0]' });
    }
  });

  it('checks MQTT filters for MQTT actions and globs for the others', () => {
    expect(failure(withStatement({ resources: ['a/#/b'] })).detail).toEqual({ path: 'statements[0].resources[0]' });
    expect(failure(withStatement({ resources: ['a/b+'] })).message).toMatch(/"\+" must be a whole level/);
    expect(failure(withStatement({ actions: ['*'], resources: ['a/#/b'] })).detail).toEqual({ path: 'statements[0].resources[0]' });
    expect(parsePolicyDocument(withStatement({ actions: ['http:get'], resources: ['/a/#/b+'] })).statements[0]!.resources).toEqual(['/a/#/b+']);
    expect(failure(withStatement({ actions: ['http:get'], resources: ['/a/***'] })).message).toMatch(/more than two consecutive/);
    expect(failure(withStatement({ actions: ['http:get'], resources: ['*/*/*/*/*/*/*/*/*'] })).message).toMatch(/more than 8 wildcards/);
    expect(failure(withStatement({ actions: ['http:get'], resources: [''] })).message).toMatch(/empty resource/);
    expect(failure(withStatement({ resources: ['x'.repeat(1025)] })).message).toMatch(/longer than 1024/);
  });

  it('checks variable syntax but leaves unknown names to lint', () => {
    expect(failure(withStatement({ resources: ['a/${device.id'] })).message).toMatch(/unclosed/);
    expect(failure(withStatement({ resources: ['a/${}'] })).message).toMatch(/empty variable/);
    expect(parsePolicyDocument(withStatement({ resources: ['a/${device.nope}'] })).statements[0]!.resources).toEqual(['a/${device.nope}']);
  });

  it('checks sids: pattern, not all digits, unique', () => {
    expect(failure(withStatement({ sid: 'has space' })).detail).toEqual({ path: 'statements[0].sid' });
    expect(failure(withStatement({ sid: '3' })).detail).toEqual({ path: 'statements[0].sid' });
    const dup = { ...valid, statements: [valid.statements[0], { ...valid.statements[0] }] };
    expect(failure(dup).message).toMatch(/statements\[1\]\.sid: duplicate sid "tele"/);
  });

  it('checks conditions', () => {
    const c = (conditions: unknown): PalisadeError => failure(withStatement({ conditions }));
    expect(c('yes').detail).toEqual({ path: 'statements[0].conditions' });
    expect(c({ quarantine: true }).detail).toEqual({ path: 'statements[0].conditions.quarantine' });
    expect(c({ quarantined: 'true' }).detail).toEqual({ path: 'statements[0].conditions.quarantined' });
    expect(c({ firmwareCurrent: 1 }).detail).toEqual({ path: 'statements[0].conditions.firmwareCurrent' });
    expect(c({ certDaysLeftAtLeast: -1 }).detail).toEqual({ path: 'statements[0].conditions.certDaysLeftAtLeast' });
    expect(c({ certDaysLeftAtLeast: Number.POSITIVE_INFINITY }).detail).toEqual({ path: 'statements[0].conditions.certDaysLeftAtLeast' });
    expect(c({ sourceCidr: [] }).detail).toEqual({ path: 'statements[0].conditions.sourceCidr' });
    expect(c({ sourceCidr: ['10.0.0.0/33'] }).detail).toEqual({ path: 'statements[0].conditions.sourceCidr[0]' });
    expect(c({ sourceCidr: ['10.0.0.0/8', 'fe80::/129'] }).detail).toEqual({ path: 'statements[0].conditions.sourceCidr[1]' });
  });

  it('accepts empty statements and empty action or resource lists (lint reports them)', () => {
    expect(parsePolicyDocument({ ...valid, statements: [] }).statements).toEqual([]);
    expect(parsePolicyDocument(withStatement({ actions: [], resources: [] })).statements[0]).toEqual({ effect: 'allow', actions: [], resources: [] });
  });
});

describe('parsePolicyConfig', () => {
  it('parses a bundle of policies and attachments', () => {
    const c = parsePolicyConfig({ policies: [valid], attachments: { segment: { video: ['cams'] } } });
    expect(c.attachments).toEqual({ segment: { video: ['cams'] }, device: {} });
    expect(c.policies[0]!.name).toBe('cams');
  });

  it('names the policy index of a bad document, and bad attachment shapes', () => {
    expect(() => parsePolicyConfig({ policies: [valid, { ...valid, version: 1 }] })).toThrow(/^policy config: policies\[1\]: policy cams: version/);
    expect(() => parsePolicyConfig({ policies: [], attachments: { segment: { video: 'cams' } } })).toThrow(/attachments\.segment\.video/);
    expect(() => parsePolicyConfig({ policies: [], attachments: { zone: {} } })).toThrow(/attachments\.zone/);
    expect(() => parsePolicyConfig([])).toThrow(PalisadeError);
  });

  it('keeps a __proto__ target as a plain key', () => {
    const c = parsePolicyConfig(JSON.parse('{"policies":[],"attachments":{"device":{"__proto__":["cams"]}}}'));
    expect(Object.hasOwn(c.attachments.device, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(c.attachments.device)).toBe(Object.prototype);
  });
});

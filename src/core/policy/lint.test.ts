import { describe, expect, it } from 'vitest';
import { formatFinding, lintPolicies, type LintFinding } from './lint.ts';
import { allow, deny, doc } from './test-fixtures.ts';

const codes = (findings: LintFinding[]): string[] => findings.map((f) => `${f.level}:${f.code}:${f.policy}${f.sid === null ? '' : `#${f.sid}`}`);

describe('lintPolicies', () => {
  it('is quiet about a tidy policy', () => {
    const tidy = doc('cams', allow(['mqtt:publish'], ['video/${device.id}/telemetry'], { sid: 'tele' }), deny(['http:get'], ['/admin/**']));
    expect(lintPolicies({ policies: [tidy], attachments: { segment: { video: ['cams'] }, device: {} } })).toEqual([]);
  });

  it('flags "#"-style grants to a whole segment as errors, to a device as warnings', () => {
    const wide = doc('wide', allow(['mqtt:subscribe'], ['#'], { sid: 'all' }), allow(['mqtt:publish'], ['+/#', '+/+', 'a/#']));
    expect(codes(lintPolicies({ policies: [wide], attachments: { segment: { video: ['wide'], hvac: ['wide'] }, device: {} } }))).toEqual([
      'error:over-broad-topic:wide#all',
      'error:over-broad-topic:wide#1',
      'error:over-broad-topic:wide#1',
    ]);
    const onDevice = lintPolicies({ policies: [wide], attachments: { segment: {}, device: { 'cam-1': ['wide'] } } });
    expect(onDevice.every((f) => f.level === 'warning' && f.code === 'over-broad-topic')).toBe(true);
    expect(lintPolicies({ policies: [wide], attachments: { segment: { video: ['wide'], hvac: ['wide'] }, device: {} } })[0]!.message).toMatch(/every device in segments hvac, video/);
  });

  it('flags allow of every action', () => {
    const star = doc('star', allow(['*'], ['/x']));
    expect(codes(lintPolicies({ policies: [star], attachments: { segment: { s: ['star'] }, device: {} } }))).toEqual(['error:over-broad-action:star#0']);
    expect(codes(lintPolicies({ policies: [star] }))).toEqual(['warning:over-broad-action:star#0']);
    expect(lintPolicies({ policies: [doc('d', deny(['*'], ['/x']))] })).toEqual([]);
  });

  it('flags MQTT wildcards in deny statements and explains the AWS difference', () => {
    const [f, ...rest] = lintPolicies({ policies: [doc('d', deny(['mqtt:subscribe'], ['fleet/+/secret/#', 'plain/topic'], { sid: 'no' }))] });
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ level: 'warning', code: 'deny-wildcard', policy: 'd', sid: 'no' });
    expect(f!.message).toMatch(/AWS IoT reads MQTT wildcards in deny resources literally/);
    expect(f!.message).toMatch(/Palisade reads them as wildcards/);
    // Not for globs: "+" and "#" have no meaning in an HTTP path.
    expect(lintPolicies({ policies: [doc('h', deny(['http:get'], ['/a/+/#']))] })).toEqual([]);
  });

  it('flags unknown variables, empty statements and empty policies', () => {
    const p = doc('v', allow(['mqtt:publish'], ['a/${device.name}']), allow([], ['x']), allow(['http:get'], []));
    expect(codes(lintPolicies({ policies: [p, doc('empty')] }))).toEqual([
      'error:unknown-variable:v#0',
      'error:empty-statement:v#1',
      'error:empty-statement:v#2',
      'warning:empty-policy:empty',
    ]);
    expect(lintPolicies({ policies: [p] })[0]!.message).toMatch(/\$\{device\.name\}.*known: \$\{device\.id\}/);
  });

  it('reports invalid documents, reserved and duplicate names, dangling and useless attachments', () => {
    const findings = lintPolicies({
      policies: [{ name: 'broken', version: '1' }, doc('quarantine'), doc('a'), doc('a'), doc('lonely'), doc('q', allow(['http:get'], ['/x']))],
      attachments: { segment: { video: ['a', 'ghost'], quarantine: ['q'] }, device: {} },
    });
    expect(codes(findings)).toEqual([
      'error:invalid-document:broken',
      'error:reserved-name:quarantine',
      'error:duplicate-policy:a',
      'error:unknown-policy:attachments.segment.video',
      'warning:empty-policy:a',
      'warning:unattached:lonely',
      'warning:empty-policy:lonely',
      'warning:quarantine-allow:q',
    ]);
  });

  it('flags broad globs, never-applying quarantine conditions and all-address CIDRs', () => {
    const p = doc(
      'g',
      allow(['queue:pull', 'firmware:download'], ['**'], { sid: 'q' }),
      allow(['http:get'], ['/x'], { sid: 'quar', conditions: { quarantined: true } }),
      allow(['http:get'], ['/y'], { sid: 'net', conditions: { sourceCidr: ['0.0.0.0/0', '::/0', '10.0.0.0/8', '::ffff:0:0/96'] } }),
    );
    expect(codes(lintPolicies({ policies: [p] }))).toEqual(['warning:broad-glob:g#q', 'warning:quarantine-allow:g#quar', 'warning:cidr-everything:g#net', 'warning:cidr-everything:g#net']);
  });

  it('formats one line per finding', () => {
    expect(formatFinding({ level: 'error', code: 'empty-statement', policy: 'p', sid: 's', message: 'm' })).toBe('error p#s: m');
    expect(formatFinding({ level: 'warning', code: 'unattached', policy: 'p', sid: null, message: 'm' })).toBe('warning p: m');
  });
});

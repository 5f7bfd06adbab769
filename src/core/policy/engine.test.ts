import { describe, expect, it, vi } from 'vitest';
import { ErrorCodes } from '../errors.ts';
import { Actions } from './actions.ts';
import { DEFAULT_DENY, INVALID_RESOURCE, ZeroTrustPolicyEngine } from './engine.ts';
import { allow, config, deny, device, doc } from './test-fixtures.ts';

const A = Actions;
const DAY = 86_400_000;

describe('segment-default (built in, attached to every segment)', () => {
  const p = new ZeroTrustPolicyEngine().compile(device());

  it('lets a device connect, publish, subscribe and receive under its own tree', () => {
    expect(p.authorize(A.mqttConnect, 'cam-1')).toEqual({ allowed: true, rule: 'segment-default#connect' });
    expect(p.authorize(A.mqttPublish, 'video/cam-1/frames')).toEqual({ allowed: true, rule: 'segment-default#own-tree' });
    expect(p.authorize(A.mqttPublish, 'video/cam-1')).toEqual({ allowed: true, rule: 'segment-default#own-tree' });
    expect(p.authorize(A.mqttSubscribe, 'video/cam-1/cmd/#').allowed).toBe(true);
    expect(p.authorize(A.mqttReceive, 'video/cam-1/cmd/reboot').allowed).toBe(true);
  });

  it('lets it subscribe to and receive the segment broadcast tree, not publish there', () => {
    expect(p.authorize(A.mqttSubscribe, 'video/broadcast/+')).toEqual({ allowed: true, rule: 'segment-default#broadcast' });
    expect(p.authorize(A.mqttReceive, 'video/broadcast/firmware')).toEqual({ allowed: true, rule: 'segment-default#broadcast' });
    expect(p.authorize(A.mqttPublish, 'video/broadcast/x')).toEqual(DEFAULT_DENY);
  });

  it('denies everything else by default, naming default-deny', () => {
    expect(p.authorize(A.mqttPublish, 'video/cam-2/frames')).toEqual({ allowed: false, rule: 'default-deny' });
    expect(p.authorize(A.mqttSubscribe, 'video/#').allowed).toBe(false);
    expect(p.authorize(A.mqttSubscribe, '#').allowed).toBe(false);
    expect(p.authorize(A.mqttSubscribe, 'video/+/frames').allowed).toBe(false);
    expect(p.authorize(A.adminRead, '/api/v1/x').allowed).toBe(false);
    expect(p.authorize(A.firmwareDownload, 'cam-fw-1.2').allowed).toBe(false);
    expect(p.authorize('mqtt:bogus' as never, 'x')).toBe(DEFAULT_DENY);
  });
});

describe('segments', () => {
  it('denies cross-segment traffic unless a policy allows it', () => {
    const hvac = device({ id: 'thermo-1', segment: 'hvac' });
    const closed = new ZeroTrustPolicyEngine().compile(hvac);
    expect(closed.authorize(A.mqttPublish, 'video/cam-1/cmd')).toEqual(DEFAULT_DENY);
    expect(closed.authorize(A.mqttSubscribe, 'video/#')).toEqual(DEFAULT_DENY);
    expect(closed.authorize(A.mqttSubscribe, 'video/broadcast/#')).toEqual(DEFAULT_DENY);
    expect(closed.authorize(A.mqttReceive, 'video/cam-1/frames')).toEqual(DEFAULT_DENY);

    const bridge = doc('hvac-reads-video', { sid: 'frames', effect: 'allow', actions: ['mqtt:subscribe', 'mqtt:receive'], resources: ['video/+/frames'] });
    const open = new ZeroTrustPolicyEngine(config([bridge], { hvac: ['hvac-reads-video'] })).compile(hvac);
    expect(open.authorize(A.mqttSubscribe, 'video/+/frames')).toEqual({ allowed: true, rule: 'hvac-reads-video#frames' });
    expect(open.authorize(A.mqttReceive, 'video/cam-1/frames').allowed).toBe(true);
    expect(open.authorize(A.mqttPublish, 'video/cam-1/frames').allowed).toBe(false);
    expect(open.authorize(A.mqttSubscribe, 'video/#').allowed).toBe(false);
    // The video devices themselves are not affected by hvac's attachment.
    const cam = new ZeroTrustPolicyEngine(config([bridge], { hvac: ['hvac-reads-video'] })).compile(device());
    expect(cam.authorize(A.mqttSubscribe, 'hvac/+/frames').allowed).toBe(false);
  });

  it('applies segment attachments to every device in the segment and device attachments to that device only', () => {
    const e = new ZeroTrustPolicyEngine(
      config([doc('seg', allow(['admin:read'], ['/seg/*'])), doc('dev', allow(['admin:read'], ['/dev/*']))], { video: ['seg'] }, { 'cam-1': ['dev'] }),
    );
    const cam1 = e.compile(device());
    const cam2 = e.compile(device({ id: 'cam-2' }));
    expect(cam1.authorize(A.adminRead, '/seg/a')).toEqual({ allowed: true, rule: 'seg#0' });
    expect(cam1.authorize(A.adminRead, '/dev/a')).toEqual({ allowed: true, rule: 'dev#0' });
    expect(cam2.authorize(A.adminRead, '/seg/a').allowed).toBe(true);
    expect(cam2.authorize(A.adminRead, '/dev/a').allowed).toBe(false);
    expect(e.compile(device({ segment: 'hvac', id: 'x' })).authorize(A.adminRead, '/seg/a').allowed).toBe(false);
  });

  it('treats segment and device names that are Object.prototype members as ordinary names', () => {
    // fromEntries: an object literal's `__proto__:` would set the prototype instead of a key.
    const devices = Object.fromEntries([['__proto__', ['p']]]) as Record<string, string[]>;
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['admin:read'], ['/x']))], { constructor: ['p'] }, devices));
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const policy = e.compile(device({ id, segment: id }));
      expect(policy.authorize(A.mqttConnect, id).allowed).toBe(true);
      expect(policy.authorize(A.adminRead, '/x').allowed).toBe(id === 'constructor' || id === '__proto__');
    }
  });
});

describe('deny overrides allow', () => {
  it('whatever the order of statements and policies', () => {
    const d = deny(['mqtt:publish'], ['video/cam-1/secret'], { sid: 'no' });
    const a = allow(['mqtt:publish'], ['video/#'], { sid: 'yes' });
    for (const statements of [[d, a], [a, d]]) {
      const p = new ZeroTrustPolicyEngine(config([doc('p', ...statements)], { video: ['p'] })).compile(device());
      expect(p.authorize(A.mqttPublish, 'video/cam-1/secret')).toEqual({ allowed: false, rule: 'p#no' });
      expect(p.authorize(A.mqttPublish, 'video/cam-2/x')).toEqual({ allowed: true, rule: 'p#yes' });
    }
  });

  it('a device-attached deny overrides the built-in own-tree allow', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('mute', deny(['mqtt:publish'], ['video/cam-1/audio/#'], { sid: 'audio' }))], {}, { 'cam-1': ['mute'] }));
    const p = e.compile(device());
    expect(p.authorize(A.mqttPublish, 'video/cam-1/audio/left')).toEqual({ allowed: false, rule: 'mute#audio' });
    expect(p.authorize(A.mqttPublish, 'video/cam-1/video').allowed).toBe(true);
  });

  it('a deny on mqtt:subscribe refuses every subscription that overlaps it', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['mqtt:subscribe', 'mqtt:receive'], ['fleet/#']), deny(['mqtt:subscribe', 'mqtt:receive'], ['fleet/secret/#'], { sid: 's' }))], { video: ['p'] }));
    const p = e.compile(device());
    expect(p.authorize(A.mqttSubscribe, 'fleet/public/#').allowed).toBe(true);
    expect(p.authorize(A.mqttSubscribe, 'fleet/secret/a')).toEqual({ allowed: false, rule: 'p#s' });
    expect(p.authorize(A.mqttSubscribe, 'fleet/#')).toEqual({ allowed: false, rule: 'p#s' });
    expect(p.authorize(A.mqttSubscribe, 'fleet/+/a')).toEqual({ allowed: false, rule: 'p#s' });
    expect(p.authorize(A.mqttSubscribe, '+/+/a')).toEqual({ allowed: false, rule: 'p#s' });
    expect(p.authorize(A.mqttReceive, 'fleet/secret/a').allowed).toBe(false);
    expect(p.authorize(A.mqttReceive, 'fleet/public/a').allowed).toBe(true);
  });
});

describe('actions', () => {
  it('expands family and global wildcards', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['queue:*'], ['/a']), allow(['*'], ['/all']))], { video: ['p'] }));
    const p = e.compile(device());
    for (const a of [A.queuePush, A.queuePull, A.queueAck]) expect(p.authorize(a, '/a').allowed).toBe(true);
    expect(p.authorize(A.adminRead, '/a').allowed).toBe(false);
    for (const a of [A.coapObserve, A.queuePull, A.shadowUpdate, A.adminWrite, A.firmwareDownload]) expect(p.authorize(a, '/all').allowed).toBe(true);
  });
});

describe('resources', () => {
  const e = new ZeroTrustPolicyEngine(
    config(
      [
        doc(
          'p',
          allow(['mqtt:publish'], ['sensors/+/temp', 'logs/#']),
          allow(['mqtt:subscribe'], ['cmd/+/x/#']),
          allow(['admin:read'], ['/api/*/state', '/files/**']),
          allow(['dns:resolve'], ['*.Example.com', 'exact.org']),
          allow(['queue:pull'], ['jobs-*']),
        ),
      ],
      { video: ['p'] },
    ),
  );
  const p = e.compile(device());

  it('publish and receive: the topic must match a filter', () => {
    expect(p.authorize(A.mqttPublish, 'sensors/a/temp').allowed).toBe(true);
    expect(p.authorize(A.mqttPublish, 'sensors/a/b/temp').allowed).toBe(false);
    expect(p.authorize(A.mqttPublish, 'logs').allowed).toBe(true);
    expect(p.authorize(A.mqttPublish, 'logs/a/b').allowed).toBe(true);
    expect(p.authorize(A.mqttPublish, 'logsx/a').allowed).toBe(false);
  });

  it('subscribe: the requested filter must be covered', () => {
    expect(p.authorize(A.mqttSubscribe, 'cmd/a/x/#').allowed).toBe(true);
    expect(p.authorize(A.mqttSubscribe, 'cmd/+/x/y').allowed).toBe(true);
    expect(p.authorize(A.mqttSubscribe, 'cmd/+/#').allowed).toBe(false);
    expect(p.authorize(A.mqttSubscribe, 'cmd/#').allowed).toBe(false);
    expect(p.authorize(A.mqttSubscribe, '#').allowed).toBe(false);
  });

  it('globs: * is one path segment, ** anything; domains ignore case and a trailing dot', () => {
    expect(p.authorize(A.adminRead, '/api/v1/state').allowed).toBe(true);
    expect(p.authorize(A.adminRead, '/api/v1/x/state').allowed).toBe(false);
    expect(p.authorize(A.adminRead, '/files/a/b/c.bin').allowed).toBe(true);
    expect(p.authorize(A.dnsResolve, 'a.example.COM.').allowed).toBe(true);
    expect(p.authorize(A.dnsResolve, 'a.b.example.com').allowed).toBe(true);
    expect(p.authorize(A.dnsResolve, 'example.com').allowed).toBe(false);
    expect(p.authorize(A.dnsResolve, 'EXACT.org').allowed).toBe(true);
    expect(p.authorize(A.dnsResolve, 'evil-example.com').allowed).toBe(false);
    expect(p.authorize(A.queuePull, 'jobs-7').allowed).toBe(true);
    expect(p.authorize(A.queuePull, 'jobs-7/x').allowed).toBe(false);
  });

  it('refuses resources no valid request carries', () => {
    expect(p.authorize(A.mqttPublish, 'logs/+')).toBe(INVALID_RESOURCE);
    expect(p.authorize(A.mqttPublish, 'logs/#')).toBe(INVALID_RESOURCE);
    expect(p.authorize(A.mqttPublish, '')).toBe(INVALID_RESOURCE);
    expect(p.authorize(A.mqttSubscribe, 'cmd/#/x')).toBe(INVALID_RESOURCE);
    expect(p.authorize(A.adminRead, '/files/../etc/passwd')).toBe(INVALID_RESOURCE);
    expect(p.authorize(A.adminRead, '/api/./state')).toBe(INVALID_RESOURCE);
    expect(p.authorize(A.adminRead, '/files/a..b').allowed).toBe(true);
  });

  it('keeps $ topics out of reach of leading wildcards [MQTT-4.7.2-1]', () => {
    const all = new ZeroTrustPolicyEngine(config([doc('p', allow(['mqtt:publish', 'mqtt:subscribe'], ['#', '+/x']))], {}, { 'cam-1': ['p'] })).compile(device());
    expect(all.authorize(A.mqttPublish, 'anything/at/all').allowed).toBe(true);
    expect(all.authorize(A.mqttPublish, '$SYS/broker').allowed).toBe(false);
    expect(all.authorize(A.mqttSubscribe, '$SYS/#').allowed).toBe(false);
    expect(all.authorize(A.mqttPublish, '$SYS/x').allowed).toBe(false);
  });
});

describe('variables', () => {
  const policy = doc(
    'vars',
    allow(['mqtt:publish'], ['site/${device.attr.site}/${device.id}'], { sid: 'site' }),
    allow(['mqtt:publish'], ['seg/${device.segment}/cn/${cert.cn}'], { sid: 'cn' }),
  );
  const engine = new ZeroTrustPolicyEngine(config([policy], { video: ['vars'] }));

  it('substitutes device id, segment, attributes and certificate CN per principal', () => {
    const p = engine.compile(device({ attrs: { site: 'berlin' } }));
    expect(p.authorize(A.mqttPublish, 'site/berlin/cam-1')).toEqual({ allowed: true, rule: 'vars#site' });
    expect(p.authorize(A.mqttPublish, 'site/paris/cam-1').allowed).toBe(false);
    expect(p.authorize(A.mqttPublish, 'seg/video/cn/cam-1')).toEqual({ allowed: true, rule: 'vars#cn' });
    const other = engine.compile(device({ id: 'cam-2', certCommonName: 'cam-2', attrs: { site: 'paris' } }));
    expect(other.authorize(A.mqttPublish, 'site/berlin/cam-1').allowed).toBe(false);
    expect(other.authorize(A.mqttPublish, 'site/paris/cam-2').allowed).toBe(true);
  });

  it('drops an allow whose variable is missing, empty, or would be a wildcard', () => {
    const cases: Array<Record<string, string>> = [{}, { site: '' }, { site: '+' }, { site: '#' }, { site: 'a/b' }, { site: '*' }, { site: 'x+y' }];
    for (const attrs of cases) {
      const p = engine.compile(device({ attrs }));
      for (const t of ['site/+/cam-1', 'site/#', 'site/a/b/cam-1', 'site//cam-1', 'site/x/cam-1', 'site/*/cam-1', 'site/x+y/cam-1']) {
        expect(p.authorize(A.mqttPublish, t).allowed).toBe(false);
      }
      expect(p.authorize(A.mqttSubscribe, 'site/#').allowed).toBe(false);
    }
    const noCn = engine.compile(device({ certCommonName: null }));
    expect(noCn.authorize(A.mqttPublish, 'seg/video/cn/').allowed).toBe(false);
    expect(noCn.authorize(A.mqttPublish, 'seg/video/cn/cam-1').allowed).toBe(false);
  });

  it('an unknown variable makes an allow never apply', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['mqtt:publish'], ['a/${device.nope}', 'b/#']))], { video: ['p'] }));
    const p = e.compile(device());
    expect(p.authorize(A.mqttPublish, 'b/x').allowed).toBe(false);
    expect(p.authorize(A.mqttPublish, 'a/').allowed).toBe(false);
  });

  it('widens a deny whose variable cannot be resolved instead of dropping it', () => {
    const e = new ZeroTrustPolicyEngine(
      config(
        [
          doc(
            'p',
            allow(['mqtt:publish', 'admin:read'], ['#', '/**']),
            deny(['mqtt:publish'], ['tenant/${device.attr.tenant}/private/#'], { sid: 'tenant' }),
            deny(['admin:read'], ['/t/${device.attr.tenant}/x'], { sid: 'http' }),
          ),
        ],
        { video: ['p'] },
      ),
    );
    const withTenant = e.compile(device({ attrs: { tenant: 'acme' } }));
    expect(withTenant.authorize(A.mqttPublish, 'tenant/acme/private/a').allowed).toBe(false);
    expect(withTenant.authorize(A.mqttPublish, 'tenant/other/private/a').allowed).toBe(true);
    expect(withTenant.authorize(A.adminRead, '/t/other/x').allowed).toBe(true);
    const cases: Array<Record<string, string>> = [{}, { tenant: '+' }, { tenant: 'a/b' }];
    for (const attrs of cases) {
      const p = e.compile(device({ attrs }));
      expect(p.authorize(A.mqttPublish, 'tenant/acme/private/a')).toEqual({ allowed: false, rule: 'p#tenant' });
      expect(p.authorize(A.mqttPublish, 'tenant/x')).toEqual({ allowed: false, rule: 'p#tenant' });
      expect(p.authorize(A.mqttPublish, 'other/x').allowed).toBe(true);
      expect(p.authorize(A.adminRead, '/t/anything/at/all')).toEqual({ allowed: false, rule: 'p#http' });
      expect(p.authorize(A.adminRead, '/u/x').allowed).toBe(true);
    }
  });

  it('a deny with an unresolvable variable in the first level denies every resource of its actions', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['mqtt:publish'], ['#']), deny(['mqtt:publish'], ['${device.attr.zone}/x'], { sid: 'z' }))], { video: ['p'] }));
    const p = e.compile(device());
    expect(p.authorize(A.mqttPublish, 'a/b')).toEqual({ allowed: false, rule: 'p#z' });
    expect(p.authorize(A.mqttPublish, '$SYS/x')).toEqual({ allowed: false, rule: 'p#z' });
    expect(p.authorize(A.mqttConnect, 'cam-1').allowed).toBe(true);
  });
});

describe('posture conditions', () => {
  it('quarantined: absent on the principal means false', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['admin:read'], ['/healthy'], { conditions: { quarantined: false } }))], { video: ['p'] }));
    expect(e.compile(device()).authorize(A.adminRead, '/healthy').allowed).toBe(true);
    expect(e.compile(device({ quarantined: false })).authorize(A.adminRead, '/healthy').allowed).toBe(true);
  });

  it('firmwareCurrent: unknown fails closed (allow does not apply, deny does)', () => {
    const e = new ZeroTrustPolicyEngine(
      config(
        [
          doc(
            'p',
            allow(['admin:read'], ['/**']),
            allow(['queue:pull'], ['updates'], { conditions: { firmwareCurrent: true } }),
            deny(['admin:read'], ['/sensitive/**'], { sid: 'old-fw', conditions: { firmwareCurrent: false } }),
          ),
        ],
        { video: ['p'] },
      ),
    );
    const current = e.compile(device({ firmwareCurrent: true }));
    const stale = e.compile(device({ firmwareCurrent: false }));
    const unknown = e.compile(device());
    expect(current.authorize(A.queuePull, 'updates').allowed).toBe(true);
    expect(stale.authorize(A.queuePull, 'updates').allowed).toBe(false);
    expect(unknown.authorize(A.queuePull, 'updates').allowed).toBe(false);
    expect(current.authorize(A.adminRead, '/sensitive/a').allowed).toBe(true);
    expect(stale.authorize(A.adminRead, '/sensitive/a')).toEqual({ allowed: false, rule: 'p#old-fw' });
    expect(unknown.authorize(A.adminRead, '/sensitive/a')).toEqual({ allowed: false, rule: 'p#old-fw' });
  });

  it('certDaysLeftAtLeast: re-evaluated as the clock passes the threshold, without a new compile', () => {
    let now = 1_700_000_000_000;
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['firmware:download'], ['**'], { sid: 'fresh', conditions: { certDaysLeftAtLeast: 7 } }))], { video: ['p'] }), {
      now: () => now,
    });
    const p = e.compile(device({ certNotAfter: now + 10 * DAY }));
    expect(p.authorize(A.firmwareDownload, 'img')).toEqual({ allowed: true, rule: 'p#fresh' });
    now += 3 * DAY; // exactly 7 days left: still allowed
    expect(p.authorize(A.firmwareDownload, 'img').allowed).toBe(true);
    now += 1;
    expect(p.authorize(A.firmwareDownload, 'img')).toEqual(DEFAULT_DENY);
    expect(e.compile(device({ certNotAfter: null })).authorize(A.firmwareDownload, 'img').allowed).toBe(false);
    expect(e.compile(device()).authorize(A.firmwareDownload, 'img').allowed).toBe(false);
  });

  it('sourceCidr: IPv4, IPv6, IPv4-mapped and with ports; the cache tells sources apart', () => {
    const e = new ZeroTrustPolicyEngine(config([doc('p', allow(['admin:write'], ['/ingest'], { sid: 'lan', conditions: { sourceCidr: ['10.0.0.0/8', '2001:db8::/32'] } }))], { video: ['p'] }));
    const p = e.compile(device());
    for (const source of ['10.1.2.3', '10.1.2.3:5000', '::ffff:10.9.9.9', '[::ffff:10.0.0.1]:443', '2001:db8::1', '[2001:db8:ffff::1]:8883']) {
      expect(p.authorize(A.adminWrite, '/ingest', { source })).toEqual({ allowed: true, rule: 'p#lan' });
    }
    for (const source of ['11.1.2.3', '192.168.0.1:10', '2001:db9::1', '::1', 'garbage', '']) {
      expect(p.authorize(A.adminWrite, '/ingest', { source }).allowed).toBe(false);
    }
    expect(p.authorize(A.adminWrite, '/ingest').allowed).toBe(false);
    expect(p.authorize(A.adminWrite, '/ingest', { source: null }).allowed).toBe(false);
    expect(p.authorize(A.adminWrite, '/ingest', { source: '10.0.0.1' }).allowed).toBe(true);
  });

  it('sourceCidr on a deny: applies when the source is unknown or unreadable', () => {
    const e = new ZeroTrustPolicyEngine(
      config([doc('p', allow(['admin:read'], ['/**']), deny(['admin:read'], ['/admin/**'], { sid: 'wan', conditions: { sourceCidr: ['0.0.0.0/0'] } }))], { video: ['p'] }),
    );
    const p = e.compile(device());
    expect(p.authorize(A.adminRead, '/admin/x', { source: '8.8.8.8' })).toEqual({ allowed: false, rule: 'p#wan' });
    expect(p.authorize(A.adminRead, '/admin/x')).toEqual({ allowed: false, rule: 'p#wan' });
    expect(p.authorize(A.adminRead, '/admin/x', { source: 'not-an-ip' })).toEqual({ allowed: false, rule: 'p#wan' });
    expect(p.authorize(A.adminRead, '/admin/x', { source: '2001:db8::1' }).allowed).toBe(true);
  });
});

describe('quarantine', () => {
  const generous = doc('generous', allow(['*'], ['#', '**']), deny(['firmware:download'], ['blocked-*'], { sid: 'blocked' }));
  const engine = new ZeroTrustPolicyEngine(config([generous], { video: ['generous'], quarantine: ['generous'] }, { 'cam-1': ['generous'] }));

  for (const [label, principal] of [
    ['the quarantine segment', device({ segment: 'quarantine' })],
    ['quarantined posture', device({ quarantined: true })],
  ] as const) {
    it(`${label}: only status, firmware and connect, whatever else is attached`, () => {
      const p = engine.compile(principal);
      expect(p.quarantined).toBe(true);
      expect(p.authorize(A.mqttConnect, 'cam-1')).toEqual({ allowed: true, rule: 'quarantine#connect' });
      expect(p.authorize(A.mqttPublish, 'quarantine/cam-1/status')).toEqual({ allowed: true, rule: 'quarantine#status' });
      expect(p.authorize(A.firmwareDownload, 'cam-fw-2.0.bin')).toEqual({ allowed: true, rule: 'quarantine#firmware' });
      const refused = { allowed: false, rule: 'quarantine#deny-all-else' };
      expect(p.authorize(A.mqttPublish, 'quarantine/cam-2/status')).toEqual(refused);
      expect(p.authorize(A.mqttPublish, `${principal.segment}/cam-1/x`)).toEqual(refused);
      expect(p.authorize(A.mqttSubscribe, 'quarantine/cam-1/#')).toEqual(refused);
      expect(p.authorize(A.mqttReceive, 'quarantine/cam-1/status')).toEqual(refused);
      expect(p.authorize(A.adminRead, '/anything')).toEqual(refused);
      expect(p.authorize(A.dnsResolve, 'example.com')).toEqual(refused);
      // Denies still count.
      expect(p.authorize(A.firmwareDownload, 'blocked-1')).toEqual({ allowed: false, rule: 'generous#blocked' });
    });
  }

  it('a device that leaves quarantine gets its normal policy back when compiled again', () => {
    expect(engine.compile(device()).authorize(A.adminRead, '/anything').allowed).toBe(true);
    expect(engine.compile(device({ quarantined: true })).authorize(A.adminRead, '/anything').allowed).toBe(false);
  });
});

describe('decision cache', () => {
  it('returns the same decision object on a repeated request', () => {
    const p = new ZeroTrustPolicyEngine().compile(device());
    const a = p.authorize(A.mqttPublish, 'video/cam-1/x');
    expect(p.authorize(A.mqttPublish, 'video/cam-1/x')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('stays bounded', () => {
    const p = new ZeroTrustPolicyEngine(undefined, { cacheSize: 8 }).compile(device());
    for (let i = 0; i < 1000; i++) p.authorize(A.mqttPublish, `video/cam-1/${i}`);
    for (let i = 0; i < 1000; i++) p.authorize(A.mqttSubscribe, `video/cam-1/${i}/#`);
    expect(p.cachedDecisions).toBeLessThanOrEqual(2 * 8 * 2);
    expect(p.authorize(A.mqttPublish, 'video/cam-1/0').allowed).toBe(true);
  });

  it('refuses a cache size that is not a positive integer', () => {
    expect(() => new ZeroTrustPolicyEngine(undefined, { cacheSize: 0 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });
});

describe('update and onChange', () => {
  const open = doc('open', allow(['mqtt:subscribe', 'mqtt:receive'], ['fleet/#'], { sid: 'fleet' }));
  const narrow = doc('open', allow(['mqtt:subscribe', 'mqtt:receive'], ['fleet/public/#'], { sid: 'public' }));

  it('applies a change to already compiled policies, and tells listeners', () => {
    const e = new ZeroTrustPolicyEngine(config([open], { video: ['open'] }));
    const p = e.compile(device());
    expect(p.authorize(A.mqttSubscribe, 'fleet/private/#').allowed).toBe(true);
    const seen: Array<{ version: number; previousVersion: number }> = [];
    const off = e.onChange((c) => seen.push(c));
    const v1 = e.version;
    e.update(config([narrow], { video: ['open'] }));
    expect(e.version).toBe(v1 + 1);
    expect(seen).toEqual([{ version: v1 + 1, previousVersion: v1 }]);
    expect(p.authorize(A.mqttSubscribe, 'fleet/private/#')).toEqual(DEFAULT_DENY);
    expect(p.authorize(A.mqttSubscribe, 'fleet/public/#')).toEqual({ allowed: true, rule: 'open#public' });
    expect(p.version).toBe(e.version);
    off();
    e.update(config([], {}));
    expect(seen).toHaveLength(1);
    expect(p.authorize(A.mqttSubscribe, 'fleet/public/#').allowed).toBe(false);
  });

  it('an invalid update changes nothing and notifies nobody', () => {
    const e = new ZeroTrustPolicyEngine(config([open], { video: ['open'] }));
    const p = e.compile(device());
    const listener = vi.fn();
    e.onChange(listener);
    const v = e.version;
    expect(() => e.update(config([open], { video: ['missing'] }))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(e.version).toBe(v);
    expect(listener).not.toHaveBeenCalled();
    expect(p.authorize(A.mqttSubscribe, 'fleet/x').allowed).toBe(true);
  });

  it('every listener hears a change even when one throws; the error is rethrown after', () => {
    const e = new ZeroTrustPolicyEngine();
    const second = vi.fn();
    e.onChange(() => {
      throw new Error('listener bug');
    });
    e.onChange(second);
    expect(() => e.invalidate()).toThrow('listener bug');
    expect(second).toHaveBeenCalledTimes(1);
  });

  it('exposes the configuration and built-ins', () => {
    const e = new ZeroTrustPolicyEngine(config([open], { video: ['open'] }, { 'cam-1': ['open', 'open'] }));
    expect(e.config()).toEqual(config([open], { video: ['open'] }, { 'cam-1': ['open'] }));
    expect(e.policy('segment-default')?.statements).toHaveLength(5);
    expect(e.policy('quarantine')).toBeDefined();
  });
});

describe('configuration validation', () => {
  const bad = (c: Parameters<ZeroTrustPolicyEngine['update']>[0]): void => {
    expect(() => new ZeroTrustPolicyEngine(c)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  };

  it('refuses reserved names, duplicates, dangling attachments and invalid documents', () => {
    bad(config([doc('segment-default')]));
    bad(config([doc('quarantine')]));
    bad(config([doc('a'), doc('a')]));
    bad(config([doc('a')], { video: ['b'] }));
    bad(config([doc('a')], {}, { d: ['b'] }));
    bad(config([doc('a', allow(['mqtt:pub'], ['x']))]));
    bad({ policies: [], attachments: { segment: { video: 'a' as unknown as string[] }, device: {} } });
    bad({ policies: [], attachments: { segment: [] as unknown as Record<string, string[]>, device: {} } });
  });

  it('allows attaching the built-ins explicitly', () => {
    const e = new ZeroTrustPolicyEngine(config([], {}, { 'cam-1': ['quarantine'] }));
    expect(e.compile(device()).authorize(A.firmwareDownload, 'x').allowed).toBe(true);
  });
});

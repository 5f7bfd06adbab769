/**
 * ModSecurity v3 + OWASP CRS 3.3 as the optional WAF engine (issue 5, point 3): the addon over
 * Debian's libmodsecurity3 with Debian's CRS, directly and in a running gateway. Skipped where
 * the addon is not built (no libmodsecurity-dev) or the CRS is not installed; the start-up
 * check that refuses engine 'modsecurity' without them runs everywhere.
 */
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isPalisadeError } from '../../src/core/errors.ts';
import { checkModSecurity, DEFAULT_MODSECURITY_PATHS, loadModSecAddon, modSecurityDirectives, ModSecurityWaf } from '../../src/shield/waf/modsecurity.ts';
import { addDevice, type DeviceCreds } from './helpers/devices.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { httpsCall } from './helpers/https-call.ts';

const available = loadModSecAddon() !== null && existsSync(DEFAULT_MODSECURITY_PATHS.crsSetup);

function failure(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isPalisadeError(err, ErrorCodes.CONFIG_INVALID)) return err.message;
    throw err;
  }
  return 'no error';
}

describe('the start-up check', () => {
  it('palisade needs nothing; modsecurity and both fail clearly without the addon or the CRS', () => {
    const missingAddon = { ...DEFAULT_MODSECURITY_PATHS, addon: '/nonexistent/modsec.node' };
    expect(checkModSecurity('palisade', missingAddon)).toBeNull();
    expect(failure(() => checkModSecurity('modsecurity', missingAddon))).toMatch(/^shield\.waf\.engine 'modsecurity' needs the ModSecurity addon \(\/nonexistent\/modsec\.node\)/);
    expect(failure(() => checkModSecurity('both', missingAddon))).toMatch(/engine 'both' needs the ModSecurity addon/);
    expect(failure(() => new ModSecurityWaf({ paranoia: 1, threshold: 5, paths: missingAddon }))).toMatch(/needs the ModSecurity addon/);
  });

  it.skipIf(!available)('a missing CRS directory is refused as well', () => {
    const missingCrs = { ...DEFAULT_MODSECURITY_PATHS, crsRules: '/nonexistent/rules' };
    expect(failure(() => checkModSecurity('modsecurity', missingCrs))).toMatch(/needs the OWASP Core Rule Set/);
  });

  it('the directives set the paranoia level and threshold before the CRS rules, and skip RESPONSE rules', () => {
    const d = modSecurityDirectives({ paranoia: 3, threshold: 7 });
    expect(d).toContain('setvar:tx.paranoia_level=3');
    expect(d).toContain('setvar:tx.inbound_anomaly_score_threshold=7');
    expect(d.indexOf('tx.paranoia_level=3')).toBeLessThan(d.indexOf('REQUEST-*.conf'));
    expect(d).not.toContain('RESPONSE-');
  });
});

describe.skipIf(!available)('ModSecurity with the CRS', () => {
  let waf: ModSecurityWaf;
  beforeAll(() => {
    waf = new ModSecurityWaf({ paranoia: 1, threshold: 5 });
  });
  const head = (url: string, headers: Record<string, string> = {}) => waf.inspectHttp({ method: 'GET', url, headers: { host: 'gateway.example', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', accept: 'application/json', ...headers }, source: '10.1.2.3:40000' });

  it('the addon throws ModSecurity\'s own error text for bad directives', () => {
    const addon = loadModSecAddon();
    expect(() => addon?.create('SecRuleEngine Sometimes')).toThrow(/ModSecurity rules: .*Sometimes/);
  });

  it.each([
    ['SQL injection', "/x?id=1'%20OR%20'1'%3D'1", /^942/],
    ['XSS', '/x?q=%3Cscript%3Ealert(1)%3C/script%3E', /^941/],
    ['command injection', '/x?c=%3B%20cat%20/etc/passwd', /^93[02]/],
    ['path traversal', '/x?f=../../etc/passwd', /^930/],
  ])('blocks %s with a CRS rule id', (_name, url, rule) => {
    const v = head(url);
    expect(v.blocked).toBe(true);
    expect(v.ruleIds.some((r) => rule.test(r))).toBe(true);
  });

  it('passes benign requests', () => {
    for (const url of ['/api/v1/devices?page=2&sort=name', '/api/openapi.json', '/search?q=caf%C3%A9%20Z%C3%BCrich&lang=de', '/ps/plant/sensor-1/telemetry']) {
      expect(head(url), url).toEqual({ blocked: false, ruleIds: [] });
    }
  });

  it('payloads: benign JSON telemetry and text pass; an SQLi string value in JSON is blocked', () => {
    const benign = [
      { temp: 21.5, hum: 40, unit: '°C', site: 'Zürich 東京', ok: true },
      { id: 'sensor-1', ts: 1733000000, readings: [1, 2, 3], note: 'door opened by maintenance' },
      { status: 'online', fw: '1.4.2', rssi: -71 },
    ];
    for (const b of benign) expect(waf.inspectPayload('plant/sensor-1/telemetry', Buffer.from(JSON.stringify(b))).blocked, JSON.stringify(b)).toBe(false);
    expect(waf.inspectPayload('plant/sensor-1/log', Buffer.from('battery low, switching to eco mode')).blocked).toBe(false);
    const sqli = waf.inspectPayload('plant/sensor-1/telemetry', Buffer.from(JSON.stringify({ temp: 20, name: "x' OR '1'='1' --" })));
    expect(sqli.blocked).toBe(true);
    expect(sqli.ruleIds.some((r) => r.startsWith('942'))).toBe(true);
    const text = waf.inspectPayload('plant/sensor-1/log', Buffer.from('<script>alert(document.cookie)</script>'));
    expect(text.blocked).toBe(true);
    expect(text.ruleIds.some((r) => r.startsWith('941'))).toBe(true);
  });
});

describe.skipIf(!available)('a gateway with shield.waf.engine modsecurity', () => {
  let t: TestGateway;
  let sensor: DeviceCreds;
  beforeAll(async () => {
    t = await startTestGateway({ shield: { waf: { engine: 'modsecurity' } }, policy: { segments: { plant: { publish: ['plant/#'], subscribe: ['plant/#'] } } } });
    sensor = await addDevice(t, 'sensor-1', 'plant');
  });
  afterAll(async () => t?.stop());

  async function blockedEvents(): Promise<Array<{ detail: Record<string, unknown> }>> {
    await t.gateway.events.flush();
    return t.gateway.store.events.list({ type: 'waf.blocked', limit: 1000 });
  }

  it('an HTTPS request with SQLi in its query gets 403 and a waf.blocked event from ModSecurity; a plain one passes', async () => {
    const get = (path: string) => httpsCall({ host: '127.0.0.1', port: t.port('https'), servername: 'localhost', method: 'GET', path, ca: sensor.ca, agent: false });
    expect((await get('/api/openapi.json?lang=en&page=2')).status).toBe(200);
    const before = (await blockedEvents()).length;
    expect((await get("/api/openapi.json?id=1'%20OR%20'1'%3D'1")).status).toBe(403);
    const blocked = (await blockedEvents()).slice(before);
    expect(blocked).toHaveLength(1);
    expect(blocked[0]?.detail.engine).toBe('modsecurity');
    expect(blocked[0]?.detail.protocol).toBe('http');
    expect((blocked[0]?.detail.rules as string[]).some((r) => r.startsWith('942'))).toBe(true);
  });

  it('an MQTT publish with SQLi in a JSON value is refused with 0x99; benign telemetry is accepted', async () => {
    const c = mqtt.connect(`mqtts://127.0.0.1:${t.port('mqtts')}`, { clientId: sensor.id, protocolVersion: 5, ca: sensor.ca, cert: sensor.cert, key: sensor.key, servername: 'localhost', reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('error', reject);
    });
    const code = async (body: string): Promise<number> => {
      try {
        const p = await c.publishAsync('plant/sensor-1/telemetry', body, { qos: 1 });
        return p && 'reasonCode' in p && typeof p.reasonCode === 'number' ? p.reasonCode : 0;
      } catch (err) {
        return (err as { code?: number }).code ?? -1;
      }
    };
    try {
      expect(await code(JSON.stringify({ temp: 21.5, unit: '°C' }))).toBe(0);
      const before = (await blockedEvents()).length;
      expect(await code(JSON.stringify({ name: "x' OR '1'='1' --" }))).toBe(0x99);
      const blocked = (await blockedEvents()).slice(before);
      expect(blocked.map((e) => [e.detail.engine, e.detail.protocol])).toEqual([['modsecurity', 'mqtt']]);
      expect((blocked[0]?.detail.rules as string[]).some((r) => r.startsWith('942'))).toBe(true);
    } finally {
      c.end(true);
    }
  });
});

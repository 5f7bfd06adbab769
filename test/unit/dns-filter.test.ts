// The per-segment DNS filter (issue 6 points 2–3): allow beats block, block: null means every
// block list (the bundled one included), allow-only segments, answer kinds per segment, atomic
// list replacement, and configuration errors.
import { describe, expect, it } from 'vitest';
import { compileList } from '../../src/core/dns/lists/builder.ts';
import { BUNDLED_THREAT_LIST, createDnsFilter, type DnsFilterInput, type DnsPolicyInput } from '../../src/core/dns/filter.ts';
import { ErrorCodes } from '../../src/core/errors.ts';

const filterPolicy = (over: Partial<DnsPolicyInput> = {}): DnsPolicyInput => ({ mode: 'filter', block: null, allow: [], answer: 'nxdomain', ...over });
const blockList = (text: string) => compileList(text, { kind: 'block', format: 'auto' });
const allowList = (text: string) => compileList(text, { kind: 'allow', format: 'auto' });

const lists: DnsFilterInput['lists'] = {
  ads: { kind: 'block' },
  malware: { kind: 'block' },
  [BUNDLED_THREAT_LIST]: { kind: 'block' },
  vendor: { kind: 'allow' },
};
const loaded = {
  ads: blockList('||ads.example^\n0.0.0.0 tracker.example\n@@||ok.ads.example^\n'),
  malware: blockList('||evil.test^\n*.c2.test\n/^dga[0-9a-f]{8}\\./\n'),
  [BUNDLED_THREAT_LIST]: blockList('cnc.changeme.com\n'),
  vendor: allowList('||vendor-cloud.example^\nntp.org\n'),
};

describe('DnsFilter', () => {
  const filter = createDnsFilter({
    default: filterPolicy(),
    segments: {
      cameras: { mode: 'allowlist', block: null, allow: ['vendor', '*.firmware.example'], answer: 'refused' },
      printers: filterPolicy({ block: ['malware'], allow: ['tracker.example'], answer: 'null' }),
      lab: filterPolicy({ block: [], answer: 'nxdomain' }),
    },
    lists,
  }, loaded);

  it('default policy: every block list including the bundled one; verdict names list and rule', () => {
    expect(filter.check(null, 'x.ads.example')).toEqual({ blocked: true, answer: 'nxdomain', list: 'ads', rule: '||ads.example^' });
    expect(filter.check(null, 'cnc.changeme.com')).toEqual({ blocked: true, answer: 'nxdomain', list: BUNDLED_THREAT_LIST, rule: 'cnc.changeme.com' });
    expect(filter.check(null, 'a.c2.test')).toMatchObject({ blocked: true, list: 'malware', rule: '*.c2.test' });
    expect(filter.check(null, 'dga0123abcd.net')).toMatchObject({ blocked: true, list: 'malware', rule: '/^dga[0-9a-f]{8}\\./' });
    expect(filter.check(null, 'example.org')).toEqual({ blocked: false });
  });

  it('an @@ exception beats every block list of the policy', () => {
    expect(filter.check(null, 'ok.ads.example')).toEqual({ blocked: false });
    expect(filter.check(null, 'deep.ok.ads.example')).toEqual({ blocked: false });
  });

  it('a segment with no entry uses the default', () => {
    expect(filter.check('unknown-segment', 'x.ads.example')).toMatchObject({ blocked: true, list: 'ads' });
  });

  it('per segment: its own lists, inline allow beating block, its own answer kind', () => {
    expect(filter.check('printers', 'x.ads.example')).toEqual({ blocked: false }); // ads not among its lists
    expect(filter.check('printers', 'evil.test')).toEqual({ blocked: true, answer: 'null', list: 'malware', rule: '||evil.test^' });
    expect(filter.check('lab', 'evil.test')).toEqual({ blocked: false }); // block: [] blocks nothing
  });

  it('allow beats block: an inline allow un-blocks a name a block list holds', () => {
    const f = createDnsFilter({ default: filterPolicy({ allow: ['tracker.example', '*.evil.test'] }), segments: {}, lists }, loaded);
    expect(f.check(null, 'tracker.example')).toEqual({ blocked: false });
    expect(f.check(null, 'www.evil.test')).toEqual({ blocked: false });
    expect(f.check(null, 'x.ads.example')).toMatchObject({ blocked: true });
  });

  it('allow-only segment: only allowed names resolve, everything else is allowlist-mode / *', () => {
    expect(filter.check('cameras', 'api.vendor-cloud.example')).toEqual({ blocked: false });
    expect(filter.check('cameras', 'ntp.org')).toEqual({ blocked: false });
    expect(filter.check('cameras', 'pool.ntp.org')).toEqual({ blocked: true, answer: 'refused', list: 'allowlist-mode', rule: '*' });
    expect(filter.check('cameras', 'firmware.example')).toEqual({ blocked: false });
    expect(filter.check('cameras', 'cdn.firmware.example')).toEqual({ blocked: false });
    expect(filter.check('cameras', 'google.com')).toMatchObject({ blocked: true, list: 'allowlist-mode' });
    // the block lists' exceptions do not open an allow-only segment
    expect(filter.check('cameras', 'ok.ads.example')).toMatchObject({ blocked: true, list: 'allowlist-mode' });
  });

  it('setList swaps a list atomically; a list not yet loaded blocks nothing', () => {
    const f = createDnsFilter({ default: filterPolicy(), segments: {}, lists }, {});
    expect(f.check(null, 'x.ads.example')).toEqual({ blocked: false });
    f.setList('ads', blockList('||ads.example^'));
    expect(f.check(null, 'x.ads.example')).toMatchObject({ blocked: true, list: 'ads' });
    f.setList('ads', blockList('||other.example^'));
    expect(f.check(null, 'x.ads.example')).toEqual({ blocked: false });
    expect(f.check(null, 'other.example')).toMatchObject({ blocked: true });
    expect(() => f.setList('nope', blockList(''))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }) as Error);
    expect(() => f.setList('vendor', blockList(''))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }) as Error);
  });

  it('configuration errors are CONFIG_INVALID with one readable line', () => {
    const bad = (policy: DnsPolicyInput) => () => createDnsFilter({ default: policy, segments: {}, lists });
    expect(bad(filterPolicy({ block: ['missing'] }))).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }) as Error);
    expect(bad(filterPolicy({ block: ['vendor'] }))).toThrow(/an allow list/);
    expect(bad(filterPolicy({ allow: ['ads'] }))).toThrow(/a block list/);
    expect(bad(filterPolicy({ allow: ['/(a+)+/'] }))).toThrow(/nested quantifier/);
    expect(bad(filterPolicy({ allow: ['not a name'] }))).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }) as Error);
  });
});

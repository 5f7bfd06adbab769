import { describe, expect, it } from 'vitest';
import { device } from './test-fixtures.ts';
import { isKnownVariable, substitute, templateSyntaxProblem, variablesIn } from './variables.ts';

describe('policy variables', () => {
  const p = device({ attrs: Object.fromEntries([['site', 'berlin'], ['rack.no', '7'], ['__proto__', 'x']]) });

  it('knows the catalogue', () => {
    for (const v of ['device.id', 'device.segment', 'cert.cn', 'device.attr.site', 'device.attr.a-b_c.d:e']) expect(isKnownVariable(v), v).toBe(true);
    for (const v of ['device.ip', 'device.attr.', 'device.attr.a b', 'cert.serial', 'device.attrs.x', '']) expect(isKnownVariable(v), v).toBe(false);
  });

  it('substitutes every variable once, literally', () => {
    expect(substitute('a/${device.segment}/${device.id}/${device.attr.site}/${cert.cn}', p)).toEqual({ ok: true, value: 'a/video/cam-1/berlin/cam-1' });
    expect(substitute('${device.attr.rack.no}', p)).toEqual({ ok: true, value: '7' });
    expect(substitute('no variables', p)).toEqual({ ok: true, value: 'no variables' });
    const sneaky = device({ id: '${device.segment}' });
    expect(substitute('x/${device.id}', sneaky)).toEqual({ ok: true, value: 'x/${device.segment}' });
  });

  it('reports missing, empty, unsafe and unknown variables with the resolved prefix', () => {
    expect(substitute('a/${device.id}/${device.attr.nope}/z', p)).toMatchObject({ ok: false, why: 'missing', prefix: 'a/cam-1/', offset: 15 });
    expect(substitute('${device.attr.toString}', p)).toMatchObject({ ok: false, why: 'missing' });
    expect(substitute('${device.attr.__proto__}', p)).toEqual({ ok: true, value: 'x' });
    expect(substitute('${device.attr.e}', device({ attrs: { e: '' } }))).toMatchObject({ ok: false, why: 'missing' });
    for (const v of ['+', '#', 'a/b', '*', 'a\u0000']) expect(substitute('${device.attr.x}', device({ attrs: { x: v } }))).toMatchObject({ ok: false, why: 'unsafe' });
    expect(substitute('p-${device.foo}', p)).toMatchObject({ ok: false, why: 'unknown', prefix: 'p-' });
    expect(substitute('${cert.cn}', device({ certCommonName: null }))).toMatchObject({ ok: false, why: 'missing' });
  });

  it('checks template syntax', () => {
    expect(templateSyntaxProblem('a/${device.id}/${cert.cn}')).toBeNull();
    expect(templateSyntaxProblem('a/${device.id')).toMatch(/unclosed/);
    expect(templateSyntaxProblem('a/${}')).toMatch(/empty/);
    expect(templateSyntaxProblem('a/${x${y}')).toMatch(/nested/);
    expect(variablesIn('a/${device.id}/${x}')).toEqual(['device.id', 'x']);
  });
});

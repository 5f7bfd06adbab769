import { describe, expect, it } from 'vitest';
import { compileGlob, globProblem } from './glob.ts';

describe('globs', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/a/b', '/a/b', true],
    ['/a/b', '/a/bc', false],
    ['/a/*', '/a/b', true],
    ['/a/*', '/a/', true],
    ['/a/*', '/a/b/c', false],
    ['/a/**', '/a/b/c', true],
    ['/a/**', '/a', false],
    ['**', 'anything/at/all', true],
    ['*', 'no-slash', true],
    ['*', 'a/b', false],
    ['*.bin', 'fw.bin', true],
    ['*.bin', 'x/fw.bin', false],
    ['**.bin', 'x/fw.bin', true],
    ['/a/*/c', '/a/b/c', true],
    ['/a/*/c', '/a/b/x/c', false],
    ['/a/**/c', '/a/b/x/c', true],
    ['fw-*-*.bin', 'fw-cam-1.2.bin', true],
    ['fw-*-*.bin', 'fw-cam.bin', false],
    ['a.b', 'axb', false],
    ['(x)+[y]', '(x)+[y]', true],
    ['$^', '$^', true],
    ['/a/**', '/a/\nb', true],
  ];
  for (const [pattern, resource, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(resource)}`, () => {
      expect(compileGlob(pattern)(resource)).toBe(expected);
    });
  }

  it('domains: case-insensitive, trailing dot ignored, * crosses labels', () => {
    const m = compileGlob('*.Example.com.', { domain: true });
    expect(m('a.example.com')).toBe(true);
    expect(m('A.B.EXAMPLE.COM.')).toBe(true);
    expect(m('example.com')).toBe(false);
    expect(m('badexample.com')).toBe(false);
    expect(compileGlob('Exact.org', { domain: true })('exact.ORG.')).toBe(true);
  });

  it('reports invalid patterns', () => {
    expect(globProblem('')).toMatch(/empty/);
    expect(globProblem('a/***')).toMatch(/consecutive/);
    expect(globProblem('*/*/*/*/*/*/*/*')).toBeNull();
    expect(globProblem('*/*/*/*/*/*/*/*/*')).toMatch(/wildcards/);
  });
});

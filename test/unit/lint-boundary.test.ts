import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// Proves the import-boundary rule of the project's real eslint.config.js fires (type-aware
// rules are switched off for these in-memory probes, which have no file for the type checker): core may not import an adapter,
// a socket module or a database driver (DESIGN.md §2).
describe('lint: core imports no adapter', () => {
  it('flags a core file that imports node:net and the SQLite store', async () => {
    const eslint = new ESLint({ cwd: process.cwd(), overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }] });
    const source = "import { createServer } from 'node:net';\nimport { openSqliteStore } from '../../store/sqlite/sqlite-store.ts';\nexport const x = [createServer, openSqliteStore];\n";
    const [result] = await eslint.lintText(source, { filePath: 'src/core/boundary-probe.ts' });
    const messages = (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
    expect(messages).toHaveLength(2);
    expect(messages.join('\n')).toMatch(/core imports no/);
  }, 60_000);

  it('lets an adapter import the same modules', async () => {
    const eslint = new ESLint({ cwd: process.cwd(), overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }] });
    const source = "import { createServer } from 'node:net';\nexport const x = createServer;\n";
    const [result] = await eslint.lintText(source, { filePath: 'src/protocols/boundary-probe.ts' });
    expect((result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports')).toHaveLength(0);
  }, 60_000);
});

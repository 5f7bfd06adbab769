// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The dependency rule of DESIGN.md §2: core is pure domain and imports no adapter, no socket,
// no database driver. Enforced here so a violation fails `npm run lint` (see test/unit/lint-boundary.test.ts).
const adapterPatterns = [
  { group: ['**/shield/**', '**/protocols/**', '**/store/**', '**/cli/**', '**/config/**', '**/gateway.ts'], message: 'core imports no adapter (DESIGN.md §2)' },
  { group: ['node:net', 'node:tls', 'node:dgram', 'node:http', 'node:https', 'node:sqlite', 'net', 'tls', 'dgram', 'http', 'https', 'mqtt-packet', 'ws', 'fastify'], message: 'core imports no socket, protocol or database driver (DESIGN.md §2)' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'palisade-data/**', 'test/fixtures/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  { files: ['src/core/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: adapterPatterns }] } },
  { files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.test.ts'], rules: { 'no-console': 'off', '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/require-await': 'off' } },
  { files: ['src/cli/**/*.ts'], rules: { 'no-console': 'off' } },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);

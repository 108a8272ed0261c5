// Lint: typescript-eslint with type information, plus the architecture as rules. Nx project
// tags (package.json "nx" of each project) on two axes:
//   type:*  — what kind of project; libraries depend only "downwards", contracts on nothing;
//   scope:* — whose code; an app sees only shared and public libraries, never another app.
import js from '@eslint/js';
import { createProjectGraphAsync } from '@nx/devkit';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// @nx/enforce-module-boundaries only reads a cached project graph and silently skips itself
// when there is none (a fresh clone): compute it here, in-process (no Nx daemon left running).
process.env.NX_DAEMON ??= 'false';
await createProjectGraphAsync({ exitOnError: false });

const tsSources = ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts'];
// Not part of any project's tsconfig (those only build src): checked with tsconfig.spec.json.
const tsTests = ['**/*.spec.ts', '**/*.int-spec.ts', '**/test-support/**/*.ts', 'test/**/*.ts'];

// Every project's tests may use the testing library, so every type may depend on type:testing;
// `no-restricted-imports` below keeps it out of production code.
const depConstraints = [
  {
    sourceTag: 'type:app',
    onlyDependOnLibsWithTags: ['type:contracts', 'type:messaging', 'type:persistence', 'type:telemetry', 'type:http', 'type:sdk', 'type:security', 'type:access', 'type:evidence', 'type:testing'],
  },
  { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'type:telemetry', onlyDependOnLibsWithTags: ['type:testing'] },
  { sourceTag: 'type:http', onlyDependOnLibsWithTags: ['type:testing'] },
  // Messaging hosts the outbox relay's Nest wiring, so it may use persistence (never the reverse).
  { sourceTag: 'type:messaging', onlyDependOnLibsWithTags: ['type:contracts', 'type:telemetry', 'type:persistence', 'type:security', 'type:testing'] },
  { sourceTag: 'type:persistence', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing'] },
  { sourceTag: 'type:sdk', onlyDependOnLibsWithTags: ['type:contracts', 'type:security', 'type:testing'] },
  // Signing and trust: plain functions over node:crypto, shared by services, messaging and agents.
  { sourceTag: 'type:security', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing'] },
  // People's credentials: principals, roles, API-key hashing, OIDC verification; pure, no Nest.
  { sourceTag: 'type:access', onlyDependOnLibsWithTags: ['type:contracts', 'type:testing'] },
  // Audit evidence: row hash, signed points, chain verification, export bundles; pure, no Nest, no I/O but files.
  { sourceTag: 'type:evidence', onlyDependOnLibsWithTags: ['type:contracts', 'type:security', 'type:testing'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:contracts', 'type:messaging', 'type:persistence', 'type:security'] },
  ...['detector', 'decision', 'executor', 'auditor', 'agent', 'demo', 'console', 'cli'].map((scope) => ({
    sourceTag: `scope:${scope}`,
    onlyDependOnLibsWithTags: ['scope:shared', 'scope:public'],
  })),
];

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '.autoheal/**', '.nx/**', 'coverage/**', 'jest.config.js', 'tools/**/*.js'],
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    extends: [js.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      globals: {
        require: 'readonly',
        module: 'writable',
        exports: 'writable',
        __dirname: 'readonly',
        __filename: 'readonly',
        process: 'readonly',
        console: 'readonly',
        globalThis: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        jest: 'readonly',
      },
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: [...tsSources, ...tsTests],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    plugins: { '@nx': nx },
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // An async function that implements a Promise-returning contract need not await anything;
      // the rules that catch real promise bugs (floating, misused, awaiting non-promises) stay on.
      '@typescript-eslint/require-await': 'off',
      // A switch without `default` must name every member of the union; one with `default` has
      // chosen to handle the rest (handlers take a few event types out of many).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints,
        },
      ],
    },
  },
  {
    files: tsTests,
    languageOptions: {
      parserOptions: {
        projectService: false,
        project: './tsconfig.spec.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // expect(obj.method).toHaveBeenCalled() and friends are fine in tests.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: tsSources,
    ignores: tsTests,
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: '@autoheal/testing', message: 'Test helpers belong in tests (*.spec.ts, *.int-spec.ts, test/).' }] },
      ],
    },
  },
);

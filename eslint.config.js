// `npm run lint`: the Fastify ecosystem's own configuration (neostandard, with TypeScript), and
// the type-aware rules of typescript-eslint that catch promises nobody awaits or checks.
import neostandard from 'neostandard'
import tseslint from 'typescript-eslint'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/results/**', 'test-artifacts/**', '.cache/**', 'openapi/**', 'coverage/**', '.tap/**'] }),
  {
    // The house formatting where it differs from standard's: trailing commas on multi-line lists
    // (smaller diffs), and no space between a named function and its parameters.
    rules: {
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
      // `void promise;` marks a promise left to run on purpose (no-floating-promises asks for it).
      'no-void': ['error', { allowAsStatement: true }],
      // resolvePromise where resolve is node:path's; _ for an executor's unused first parameter.
      'promise/param-names': ['error', { resolvePattern: '^(_|_?resolve(Promise)?)$', rejectPattern: '^_?reject$' }],
      // TypeBox's idiom: a schema and its Static type share a name (TypeScript itself reports real clashes).
      '@typescript-eslint/no-redeclare': 'off',
    },
  },
  {
    // Tests spell Terraform's and the state machines' ${placeholders} as text.
    files: ['test/**/*.ts'],
    rules: { 'no-template-curly-in-string': 'off' },
  },
  {
    files: ['**/*.ts'],
    ignores: ['drizzle.config.ts'],
    languageOptions: { parserOptions: { project: ['./test/tsconfig.json'], tsconfigRootDir: import.meta.dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // tap tracks the subtests it is handed, awaited or not.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafePromises: [{ from: 'package', name: 'PromiseWithSubtest', package: '@tapjs/core' }] }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
]

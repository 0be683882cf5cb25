import neostandard from 'neostandard'

// neostandard (standard's style: no semicolons, a space before parentheses) with its TypeScript rules.
export default [
  // Global ignores (an object of its own): neostandard's `ignores` scope only its own configs, and the rules below
  // would still reach generated JavaScript (dist/, and .tap/fast/, which `npm run test:fast` writes with esbuild).
  { ignores: ['dist/**', 'coverage/**', '.tap/**', '.demo/**', 'reports/**', '.stryker-tmp/**'] },
  ...neostandard({ ts: true }),
  {
    rules: {
      // `void promise` marks a promise deliberately left to run (as ts-standard allows); elsewhere void stays refused.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // TypeBox's idiom: a schema and its Static type share one name (`export type X = Type.Static<typeof X>`), so
    // the type cannot drift from the schema. The compiler still refuses a real redeclaration.
    files: ['src/http/schemas/**/*.ts'],
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      '@stylistic/max-len': ['error', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }]
    }
  }
]

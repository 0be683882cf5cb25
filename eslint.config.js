import neostandard from 'neostandard'

// neostandard (standard's style: no semicolons, a space before parentheses) with its TypeScript rules.
export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', '.tap/**', '.demo/**', 'reports/**', '.stryker-tmp/**'] }),
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

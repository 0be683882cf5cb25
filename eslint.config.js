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
    files: ['src/**/*.ts'],
    rules: {
      '@stylistic/max-len': ['warn', { code: 140, ignoreUrls: true, ignoreRegExpLiterals: true }]
    }
  }
]

// Mutation testing of the code where a careless change costs most: the OpenIM client, the provisioning
// flow and caller authentication. `npm run mutation`; not part of `npm test` or CI (it takes long).
// Stryker compiles its sandbox once, then for each mutant runs only the test files that cover it.

// Run outside tap's runner, a test file's root timeout is TAP_TIMEOUT (30 s unless set): too short for a
// busy machine. The test-runner processes inherit this environment.
process.env.TAP_TIMEOUT ??= '240'

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  // The sandbox is compiled (src and test, into stryker-build/) and tests run as plain JavaScript: loading
  // tap's TypeScript loader in every test process cost more than the tests themselves.
  buildCommand: 'tsc -p tsconfig.json --outDir stryker-build --sourceMap false',
  tap: {
    // Fast, targeted files first: a mutant stops at the first file that kills it. Left out: the process
    // tests (they run the built dist/, which Stryker does not mutate) and files that never reach these modules.
    testFiles: [
      'stryker-build/test/openim/client.test.js',
      'stryker-build/test/openim/client-rules.test.js',
      'stryker-build/test/errors.test.js',
      'stryker-build/test/provisioning/*.test.js',
      'stryker-build/test/http/error-handler.test.js',
      'stryker-build/test/http/auth-refusals.test.js',
      'stryker-build/test/http/auth.test.js',
      'stryker-build/test/http/provision.test.js',
      'stryker-build/test/http/sessions.test.js',
      'stryker-build/test/http/token-answers.test.js',
      'stryker-build/test/http/jwt.test.js',
      'stryker-build/test/http/operations.test.js',
      'stryker-build/test/http/limits.test.js'
    ]
  },
  mutate: ['src/openim/**/*.ts', 'src/provisioning/**/*.ts', 'src/http/auth.ts', 'src/http/jwt.ts'],
  coverageAnalysis: 'perTest',
  // A mutant in module-level code is covered by every test, so each would run every file: hours on two
  // shared cores. Such mutants are left out (reported as ignored).
  ignoreStatic: true,
  concurrency: 2,
  // Generous: on a busy machine a slow run must not count as a timeout (timeouts count as killed).
  timeoutMS: 30_000,
  dryRunTimeoutMinutes: 30,
  // Later runs re-test only mutants whose code or covering tests changed (reports/stryker-incremental.json).
  incremental: true,
  ignorePatterns: ['dist', 'coverage', '.tap', 'reports'],
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  // break: the measured score (README "Testing") with every load-induced timeout counted as a survivor, rounded
  // down: a run below it means tests stopped catching mistakes they caught.
  thresholds: { high: 90, low: 80, break: 82 }
}

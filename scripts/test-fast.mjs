// The inner loop (`npm run test:fast`): every test file that starts no process and no browser, without coverage.
// The rule is read from the code, not kept by hand: a test file that imports node:child_process or
// puppeteer-core, itself or through a helper under test/, starts processes (redis-server, a built entry point,
// a linter, Chromium) and is left to `npm test`. tsx loads the TypeScript (tap's ts-node costs about twice the
// CPU per file); TAP_TYPE_STRIP_ONLY=1 tells tap's TypeScript plugin not to register ts-node as well, and
// FASTIFY_AUTOLOAD_TYPESCRIPT=1 tells @fastify/autoload that .ts route files load (it sees tsx only under -r).
import { spawn } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const root = resolve(new URL('..', import.meta.url).pathname)
const STARTS_PROCESSES = /from '(node:child_process|puppeteer-core)'/

const testFiles = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
  const path = join(dir, entry.name)
  if (entry.isDirectory()) return entry.name === 'fixtures' ? [] : testFiles(path)
  return entry.name.endsWith('.test.ts') ? [path] : []
})

// Relative imports of test helpers (`../helper.js` is test/helper.ts); src/ is the code under test, not a helper.
const helperImports = (file) => [...readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)]
  .map((match) => resolve(dirname(file), `${match[1]}.ts`))
  .filter((path) => path.startsWith(join(root, 'test') + '/'))

function startsProcesses (file, seen = new Set()) {
  if (seen.has(file)) return false
  seen.add(file)
  return STARTS_PROCESSES.test(readFileSync(file, 'utf8')) || helperImports(file).some((helper) => startsProcesses(helper, seen))
}

const all = testFiles(join(root, 'test')).sort()
const fast = all.filter((file) => !startsProcesses(file)).map((file) => relative(root, file))
console.error(`test:fast: ${fast.length} of ${all.length} test files (the other ${all.length - fast.length} start processes or a browser: npm test runs them)`)
// `npm run test:fast -- test/http/provision.test.ts`: those files only (the ones among them that start no process).
const named = process.argv.slice(2).filter((arg) => arg.endsWith('.test.ts')).map((arg) => relative(root, resolve(arg)))
const options = process.argv.slice(2).filter((arg) => !arg.endsWith('.test.ts'))
const files = named.length === 0 ? fast : fast.filter((file) => named.includes(file))
if (files.length === 0) {
  console.error('test:fast: none of those files is in the fast set (they start processes): use npm run test:one')
  process.exit(1)
}

const tap = spawn(process.execPath, [
  join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'),
  // Four files at a time on two cores: several spend seconds waiting on a timeout they test, not on the CPU.
  '--disable-coverage', '--jobs=4', '--test-env=TAP_TYPE_STRIP_ONLY=1', '--test-env=FASTIFY_AUTOLOAD_TYPESCRIPT=1', '--node-arg=--import=tsx',
  ...options, ...files
], { cwd: root, stdio: 'inherit' })
tap.on('exit', (code) => { process.exitCode = code ?? 1 })

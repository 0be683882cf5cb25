// The inner loop (`npm run test:fast`): every test file that starts no process and no browser, without coverage.
// The rule is read from the code, not kept by hand: a test file that imports node:child_process or
// puppeteer-core, itself or through a helper under test/, starts processes (redis-server, a built entry point,
// a linter, Chromium) and is left to `npm test`.
// The files run as JavaScript: esbuild turns src/ and test/ into .tap/fast/ (under a second) beside links to
// every other file of the repository, so paths relative to a module (../../docs/, ../openapi/) lead where they do
// in the sources, and stack traces name the .ts lines. A TypeScript loader (tsx) cost each file about 1.2 s of
// CPU in module resolution: the run took 141 s here, 101–111 s without it.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import esbuild from 'esbuild'

const root = resolve(new URL('..', import.meta.url).pathname)
const out = join(root, '.tap', 'fast')
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

// src/ and test/ compiled; every other entry of the repository, and every file of src/ and test/, linked where it is.
function buildTree () {
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  const typescript = []
  const link = (path) => symlinkSync(join(root, path), join(out, path))
  for (const entry of readdirSync(root)) {
    if (entry === 'src' || entry === 'test') continue
    if (entry !== '.tap' && entry !== '.git') link(entry)
  }
  const walk = (dir) => {
    mkdirSync(join(out, dir), { recursive: true })
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory() && entry.name !== 'fixtures') walk(path)
      else {
        // The .ts file stays beside its .js: tests check that a source named in the docs exists.
        if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) typescript.push(join(root, path))
        link(path)
      }
    }
  }
  walk('src')
  walk('test')
  esbuild.buildSync({
    entryPoints: typescript,
    outdir: out,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    sourcemap: 'inline',
    logLevel: 'warning'
  })
}

buildTree()
const tap = spawn(process.execPath, [
  join(root, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'),
  // Four files at a time on two cores: several spend seconds waiting on a timeout they test, not on the CPU.
  '--disable-coverage', '--jobs=4', '--test-env=TAP_TYPE_STRIP_ONLY=1', '--node-arg=--enable-source-maps',
  ...options, ...files.map((file) => join(out, file.replace(/\.ts$/, '.js')))
], { cwd: root, stdio: 'inherit' })
tap.on('exit', (code) => { process.exitCode = code ?? 1 })

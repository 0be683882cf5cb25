import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { builtClientScript } from './built.js'

const root = new URL('../../', import.meta.url).pathname
builtClientScript()

t.test('`openim-gateway/client` resolves to the built provider and its declarations', async (t) => {
  const resolved = new URL(import.meta.resolve('openim-gateway/client')).pathname
  t.equal(resolved, `${root}dist/client/index.js`)
  t.ok(existsSync(`${root}dist/client/index.d.ts`))
})

t.test('a front end written in TypeScript (DOM library, no Node types) compiles against the package entry', async (t) => {
  const tsc = `${root}node_modules/.bin/tsc`
  const result = await promisify(execFile)(tsc, ['-p', 'test/client/fixtures/tsconfig.json'], { cwd: root })
    .then(() => 'compiled', (error: { stdout?: string }) => error.stdout ?? String(error))
  t.equal(result, 'compiled')
})

t.test('the provider has no Node imports (it runs in browsers)', async (t) => {
  t.notMatch(builtClientScript(), /\bfrom\s+['"]|\bimport\s*\(|\brequire\s*\(/)
})

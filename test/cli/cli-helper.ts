import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { buildGateway, runEntry, startOpenIm } from '../helper.js'

// The CLI as users run it (`npm run import` = node dist/cli/import.js), a real child process against a
// gateway on a real port; `npm test` builds first.
export const cliEntry = new URL('../../dist/cli/import.js', import.meta.url).pathname

export async function gateway (t: Test, env: Record<string, string> = {}, emulatorOptions = {}) {
  const emulator = await startOpenIm(t, emulatorOptions)
  const { app } = await buildGateway(t, emulator.url, { LOG_LEVEL: 'warn', ...env })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { emulator, app, url }
}

export async function folder (t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'import-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export const runCli = (args: string[], env: Record<string, string>) => runEntry(cliEntry, args, env)

export const lines = (text: string) => text.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))

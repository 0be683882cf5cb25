import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { buildGateway, startOpenIm, waitFor } from '../helper.js'

// The CLI as users run it (`npm run import` = node --max-old-space-size=64 dist/cli/import.js), a real child
// process against a gateway on a real port; `npm test` builds first.
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

/** The CLI started with the heap cap of `npm run import`, only PATH and `env`; its output is collected as it comes. */
export function startCli (args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--max-old-space-size=64', cliEntry, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  const output = { stdout: '', stderr: '' }
  child.stdout.on('data', (chunk) => { output.stdout += chunk })
  child.stderr.on('data', (chunk) => { output.stderr += chunk })
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null, ...output }))
  return { child, output, exit, until: (pattern: RegExp, what: string) => waitFor(() => pattern.test(output.stdout + output.stderr), what) }
}

export async function runCli (args: string[], env: Record<string, string>) {
  const { code, stdout, stderr } = await startCli(args, env).exit
  return { code: code as number, stdout, stderr }
}

export const lines = (text: string) => text.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))

/** The summary line's figures: `done: R records (L lines) in T s (X records/s): a created, b existing, c failed, d not attempted`. */
export function summary (stdout: string) {
  const match = /^done: (\d+) records \((\d+) lines\) in [\d.]+ s \(\d+ records\/s\): (\d+) created, (\d+) existing, (\d+) failed, (\d+) not attempted$/m
    .exec(stdout)
  if (match === null) return undefined
  const [records, lines, created, existing, failed, notAttempted] = match.slice(1).map(Number) as [number, number, number, number, number, number]
  return { records, lines, created, existing, failed, notAttempted }
}

import { spawn } from 'node:child_process'
import { once } from 'node:events'

// Apart from test/helper.ts: a file that imports it starts processes, so `npm run test:fast` leaves it out.
/** A built entry point of dist/ run as users run it, with only PATH and `env`: its exit code and output. */
export async function runEntry (entry: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [entry, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const [code] = await once(child, 'exit')
  return { code: code as number, stdout, stderr }
}

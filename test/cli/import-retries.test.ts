import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { SERVICE_KEY, userCount } from '../helper.js'
import { cliEntry, folder, gateway, runCli, summary } from './cli-helper.js'

t.test('429 during an import is waited out (Retry-After) and every row lands; progress lines when not on a terminal', async (t) => {
  const { emulator, url } = await gateway(t, { IMPORT_RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1s' })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 12 }, (_, i) => `rl_${i}`).join('\n') + '\n')
  const run = await runCli([csv, '--batch-size', '2', '--concurrency', '2', '--progress-interval', '0.2'],
    { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 0, run.stderr)
  t.equal(userCount(emulator), 12)
  t.match(run.stderr, /waiting 1\.0 s before retrying a batch: rate limited/)
  t.match(run.stderr, /progress: \d+ records \(\d+%\), \d+ records\/s/)
  t.match(summary(run.stdout), { records: 12, created: 12, existing: 0, failed: 0, notAttempted: 0 })
})

t.test('503 OVERLOADED (every import slot of the replica taken) is waited out like 429, not counted against --retries', async (t) => {
  const { emulator, url } = await gateway(t, { IMPORT_MAX_CONCURRENT: '1' })
  emulator.injectFault('/user/user_register', { kind: 'delay', ms: 150 }, 100)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 8 }, (_, i) => `busy_${i}`).join('\n') + '\n')
  const run = await runCli([csv, '--batch-size', '2', '--concurrency', '4', '--retries', '0'], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 0, run.stderr)
  t.equal(userCount(emulator), 8)
  t.match(run.stderr, /waiting 1\.0 s before retrying a batch: the gateway is busy/)
})

t.test('a batch the gateway finds too large is split; 5xx is retried', async (t) => {
  const { emulator, url } = await gateway(t, { IMPORT_MAX_USERS: '3' })
  const dir = await folder(t)
  const ndjson = join(dir, 'users.ndjson')
  await writeFile(ndjson, Array.from({ length: 7 }, (_, i) => JSON.stringify({ userID: `sp_${i}` })).join('\n'))
  emulator.injectFault('/user/account_check', { kind: 'drop' }, 2)
  const run = await runCli([ndjson], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 0, run.stderr)
  t.equal(userCount(emulator), 7)
  t.match(run.stderr, /503 OPENIM_UNAVAILABLE/)
})

t.test('on a terminal a progress bar shows rate and ETA (run under script(1) for a pseudo-terminal)', async (t) => {
  const script = spawn('script', ['--version'], { stdio: 'ignore' })
  const [available] = await Promise.race([once(script, 'exit'), once(script, 'error').then(() => [127])])
  if (available !== 0) {
    t.comment('script(1) from util-linux is not installed: the terminal bar is not checked')
    return
  }
  const { url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 50 }, (_, i) => `tty_${i}`).join('\n') + '\n')
  const command = `${process.execPath} ${cliEntry} ${csv} --batch-size 10`
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    env: { PATH: process.env.PATH ?? '', GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  const [code] = await once(child, 'exit')
  t.equal(code, 0)
  t.match(output, /importing .*100% \| 50 records \| \d+ records\/s \| ETA \d+s \| created 50, existing 0, failed 0/)
  t.notMatch(output, /progress: /, 'no periodic lines on a terminal')
})

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SERVICE_KEY, buildGateway, startOpenIm } from '../helper.js'

// The CLI as users run it (`npm run import` = node dist/cli/import.js), a real child process against a
// gateway on a real port; `npm test` builds first.
const cliEntry = new URL('../../dist/cli/import.js', import.meta.url).pathname

async function gateway (t: Test, env: Record<string, string> = {}, emulatorOptions = {}) {
  const emulator = await startOpenIm(t, emulatorOptions)
  const { app } = await buildGateway(t, emulator.url, { LOG_LEVEL: 'warn', ...env })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { emulator, app, url }
}

async function folder (t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'import-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function runCli (args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [cliEntry, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const [code] = await once(child, 'exit')
  return { code: code as number, stdout, stderr }
}

const lines = (text: string) => text.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))

t.test('a CSV with a malformed row: the row is reported with its line, the others are imported, exit 1', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID,nickname,faceURL,ex\n' +
    'csv_1,"Smith, Ann",https://x.example/a.png,"{""plan"":""pro""}"\n' +
    'csv_2,too,many,columns,here\n' +
    'csv_3,,,\n' +
    'imAdmin,Boss,,\n')
  const failures = join(dir, 'failed.ndjson')
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, 'a failed row makes the exit code non-zero')
  t.match(run.stdout, /done: 4 rows .*: 2 created, 0 existing, 2 failed/)
  t.match(emulator.users.get('csv_1'), { nickname: 'Smith, Ann', faceURL: 'https://x.example/a.png', ex: '{"plan":"pro"}' })
  t.equal(emulator.users.get('csv_3')?.nickname, 'csv_3', 'empty cells are left out')
  const failed = lines(await readFile(failures, 'utf8'))
  t.same(failed.map(({ line, code }) => [line, code]).sort(), [[3, 'INVALID_ROW'], [5, 'RESERVED_USER_ID']])
  t.match(failed.find((row) => row.code === 'INVALID_ROW').message, /Invalid Record Length/)

  const again = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.match(again.stdout, /done: 4 rows .*: 0 created, 2 existing, 2 failed/, 'a re-run skips the users it created')
  t.match(again.stdout, /first failed rows \(use --failures <path> to keep them all\)/)
})

t.test('an NDJSON file: a malformed line is reported, the rest imported; a re-run finds everything existing and exits 0', async (t) => {
  const { emulator, url } = await gateway(t, {}, { mode: 'legacy' })
  const dir = await folder(t)
  const ndjson = join(dir, 'users.ndjson')
  await writeFile(ndjson, [
    '{"userID":"nd-1","nickname":"Dash is fine on v3.7"}',
    '{"userID":"nd_2",',
    '',
    '{"userID":"nd_3","nickName":"typo"}',
    '{"userID":"nd_4","ex":"{\\"k\\":1}"}'
  ].join('\n') + '\n')
  const failures = join(dir, 'failed.ndjson')
  const first = await runCli([ndjson, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(first.code, 1)
  t.same(lines(await readFile(failures, 'utf8')).map(({ line, code }) => [line, code]), [[2, 'INVALID_ROW'], [4, 'INVALID_ROW']])
  t.same([...emulator.users.keys()].sort(), ['nd-1', 'nd_4'])

  const clean = join(dir, 'clean.jsonl')
  await writeFile(clean, '{"userID":"nd-1"}\n{"userID":"nd_4"}\n')
  const rerun = await runCli([clean], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(rerun.code, 0)
  t.match(rerun.stdout, /done: 2 rows .*: 0 created, 2 existing, 0 failed/)
})

t.test('429 during an import is waited out (Retry-After) and every row lands; progress lines when not on a terminal', async (t) => {
  const { emulator, url } = await gateway(t, { IMPORT_RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1s' })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 12 }, (_, i) => `rl_${i}`).join('\n') + '\n')
  const run = await runCli([csv, '--batch-size', '2', '--concurrency', '2', '--progress-interval', '0.2'],
    { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 0, run.stderr)
  t.equal(emulator.users.size, 12)
  t.match(run.stderr, /waiting 1\.0 s before retrying a batch: rate limited/)
  t.match(run.stderr, /progress: \d+ rows \(\d+%\), \d+ rows\/s/)
  t.match(run.stdout, /done: 12 rows .*: 12 created, 0 existing, 0 failed/)
})

t.test('a batch the gateway finds too large is split; 5xx is retried', async (t) => {
  const { emulator, url } = await gateway(t, { IMPORT_MAX_USERS: '3' })
  const dir = await folder(t)
  const ndjson = join(dir, 'users.ndjson')
  await writeFile(ndjson, Array.from({ length: 7 }, (_, i) => JSON.stringify({ userID: `sp_${i}` })).join('\n'))
  emulator.injectFault('/user/account_check', { kind: 'drop' }, 2)
  const run = await runCli([ndjson], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 0, run.stderr)
  t.equal(emulator.users.size, 7)
  t.match(run.stderr, /503 OPENIM_UNAVAILABLE/)
})

t.test('a refused API key, a missing GATEWAY_URL, a bad header or a missing file stop the run with exit 2', async (t) => {
  const { url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nk_1\n')
  const refused = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: 'wrong-key-0123456789' })
  t.equal(refused.code, 2)
  t.match(refused.stderr, /refused the import \(401 UNAUTHENTICATED\)/)
  t.notMatch(refused.stderr + refused.stdout, /wrong-key-0123456789/, 'the key is never printed')
  const noUrl = await runCli([csv], {})
  t.equal(noUrl.code, 2)
  t.match(noUrl.stderr, /GATEWAY_URL/)
  await writeFile(csv, 'id,name\nk_1,K\n')
  const header = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(header.code, 2)
  t.match(header.stderr, /CSV header must name the columns userID,nickname,faceURL,ex/)
  const missing = await runCli([join(dir, 'nope.csv')], { GATEWAY_URL: url })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /ENOENT/)
  t.equal((await runCli(['--help'], {})).code, 0)
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
  t.match(output, /importing .*100% \| 50 rows \| \d+ rows\/s \| ETA \d+s \| created 50, existing 0, failed 0/)
  t.notMatch(output, /progress: /, 'no periodic lines on a terminal')
})

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ADMIN, SERVICE_KEY, userCount } from '../helper.js'
import { folder, gateway, lines, runCli, summary } from './cli-helper.js'

// Every record is accounted for: records = created + existing + failed + not attempted, the header and blank lines
// are lines but not records, and the summary (or --json) is the last thing printed.

t.test('the summary counts records, not lines, and is the last line; --json prints one object instead', async (t) => {
  const { emulator, url } = await gateway(t)
  emulator.addUser('acc_old', { nickname: 'Old', createTime: 1 })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n\nacc_new\nacc_old\n\n\nimAdmin\n')
  const env = { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY }
  const text = await runCli([csv], env)
  t.equal(text.code, 1)
  const last = text.stdout.trimEnd().split('\n').at(-1)
  t.match(last, /^done: 3 records \(7 lines\) in \d+\.\d s \(\d+ records\/s\): 1 created, 1 existing, 1 failed, 0 not attempted$/)

  const json = await runCli([csv, '--json'], env)
  t.equal(json.code, 1)
  const result = JSON.parse(json.stdout)
  t.same(Object.keys(result), ['records', 'lines', 'created', 'existing', 'failed', 'notAttempted', 'resumeFromLine', 'seconds'])
  t.match(result, { records: 3, lines: 7, created: 0, existing: 2, failed: 1, notAttempted: 0, resumeFromLine: null, seconds: Number })
  t.match(json.stderr, /first failed rows/, 'the rest goes to stderr')
})

t.test('--dry-run checks the whole file with the same accounting and sends nothing', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failed.ndjson')
  await writeFile(csv, `userID,nickname\ndry_1,A\ndry_2,"B\ndry_3,C\ndry_1,again\ndry_4,${'N'.repeat(256)}\n`)
  emulator.resetCounts()
  const run = await runCli([csv, '--dry-run', '--json', '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.match(JSON.parse(run.stdout), { records: 5, lines: 6, created: 0, existing: 0, failed: 3, notAttempted: 2, resumeFromLine: null })
  t.same(lines(await readFile(failures, 'utf8')).map(({ line, code }) => [line, code]),
    [[3, 'INVALID_ROW'], [5, 'DUPLICATE_IN_BATCH'], [6, 'INVALID_PROFILE']], 'the gateway\'s rules are checked before sending')
  t.equal(emulator.callCount(), 0)
  t.equal(userCount(emulator), 0)

  await writeFile(csv, 'userID\ndry_1\ndry_2\n')
  const clean = await runCli([csv, '--dry-run'], {})
  t.equal(clean.code, 0, 'no GATEWAY_URL needed')
  t.match(summary(clean.stdout), { records: 2, notAttempted: 2, failed: 0 })
})

t.test('a userID repeated within a batch fails its later rows, also when the gateway has the batch split; across batches it is existing', async (t) => {
  const { emulator, url } = await gateway(t, { IMPORT_MAX_USERS: '2' })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failed.ndjson')
  await writeFile(csv, 'userID\ndup_1\ndup_2\ndup_1\ndup_3\ndup_1\n')
  const env = { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY }
  const run = await runCli([csv, '--batch-size', '4', '--failures', failures], env)
  t.equal(run.code, 1, run.stderr)
  const failed = lines(await readFile(failures, 'utf8'))
  t.same(failed.map(({ line, userID, code }) => [line, userID, code]), [[4, 'dup_1', 'DUPLICATE_IN_BATCH']])
  t.match(failed[0].message, /line 2 has the same userID/)
  t.match(summary(run.stdout), { records: 5, created: 3, existing: 1, failed: 1 }, 'line 6 is in the next batch: existing')
  t.same([...emulator.users.keys()].filter((userID) => userID !== ADMIN).sort(), ['dup_1', 'dup_2', 'dup_3'])
})

t.test('over-limit values fail their own rows, by line and without the value; the rest of the batch is created', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const ndjson = join(dir, 'users.ndjson')
  const failures = join(dir, 'failed.ndjson')
  const users = Array.from({ length: 1000 }, (_, i) => ({ userID: `ol_${i}` }) as Record<string, string>)
  users[500]!.ex = 'E'.repeat(40_000)
  users[700]!.userID = 'U'.repeat(300)
  users[900]!.nickname = 'N'.repeat(2000)
  await writeFile(ndjson, users.map((user) => JSON.stringify(user)).join('\n') + '\n')
  const run = await runCli([ndjson, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  const failed = lines(await readFile(failures, 'utf8'))
  t.same(failed.map(({ line, code }) => [line, code]), [[501, 'INVALID_PROFILE'], [701, 'INVALID_USER_ID'], [901, 'INVALID_PROFILE']])
  t.match(failed.map(({ message }) => message), [/ex must be at most 8192 characters/, /at most 64 characters/, /nickname must be/])
  const printed = JSON.stringify(failed) + run.stdout + run.stderr
  t.notMatch(printed, /EEEEEEEEEE|UUUUUUUUUU|NNNNNNNNNN/, 'no value is repeated back')
  t.equal(userCount(emulator), 997)
  t.match(summary(run.stdout), { records: 1000, created: 997, failed: 3 })
})

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { SERVICE_KEY, hold, userCount, waitFor } from '../helper.js'
import { folder, gateway, lines, runCli, startCli, summary } from './cli-helper.js'

// SIGHUP, SIGINT or SIGTERM: the CLI stops sending, waits for the batches in flight (a second signal: not even that),
// prints the summary and the line to resume from, writes the failures file and exits 129, 130 or 143.

const resumeLine = (stdout: string) => Number(/--from-line (\d+)/.exec(stdout)?.[1])

t.test('SIGINT halfway, then --from-line: every user imported, none created twice, each failure listed once', async (t) => {
  const { emulator, url } = await gateway(t)
  emulator.latencyMs = 20
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failed.ndjson')
  // Line 2 is refused (reserved), line 401 too (":" is in no OpenIM's userIDs); lines 3–400 are users.
  const ids = ['imAdmin', ...Array.from({ length: 398 }, (_, i) => `int_${i}`), 'a:b']
  await writeFile(csv, 'userID\n' + ids.join('\n') + '\n')
  const env = { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY }

  const first = startCli([csv, '--batch-size', '5', '--concurrency', '1', '--failures', failures], env)
  await waitFor(() => userCount(emulator) >= 20, '20 users imported')
  first.child.kill('SIGINT')
  const stopped = await first.exit
  t.equal(stopped.code, 130, stopped.stderr)
  const counts = summary(stopped.stdout)!
  t.ok(counts.notAttempted > 0, 'stopped before the end')
  t.equal(counts.records, counts.created + counts.existing + counts.failed + counts.notAttempted)
  t.equal(counts.created, userCount(emulator), 'the batch in flight was waited for and counted')
  const from = resumeLine(stopped.stdout)
  t.ok(from > 2 && from < 401, `resume from line ${from}`)
  t.ok(ids.slice(1, from - 2).every((userID) => emulator.users.has(userID)), 'every user before the resume line exists')
  t.match(stopped.stdout, /\n[^\n]*--from-line \d+[^\n]*\ndone: /, 'the resume hint comes just before the summary')
  t.same(lines(await readFile(failures, 'utf8')).map(({ line, code }) => [line, code]), [[2, 'RESERVED_USER_ID']])

  const resumed = await runCli([csv, '--batch-size', '5', '--concurrency', '1', '--failures', failures, '--from-line', String(from)], env)
  t.equal(resumed.code, 1, resumed.stderr)
  const rest = summary(resumed.stdout)!
  t.equal(rest.records, 401 - from + 1, 'the records from the resume line on')
  t.equal(counts.created + rest.created, 398, 'no user created twice')
  t.equal(userCount(emulator), 398)
  t.same(lines(await readFile(failures, 'utf8')).map(({ line, code }) => [line, code]), [[2, 'RESERVED_USER_ID'], [401, 'INVALID_USER_ID']],
    'with --from-line the failures file is added to')
})

t.test('a batch in flight when SIGINT comes is waited for: its users are counted, the next batch is not sent', async (t) => {
  const { emulator, url } = await gateway(t, { OPENIM_TIMEOUT_MS: '10000' })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 20 }, (_, i) => `fl_${i}`).join('\n') + '\n')
  emulator.injectFault('/user/user_register', { kind: 'delay', ms: 1500 })
  const run = startCli([csv, '--batch-size', '5', '--concurrency', '1', '--json'], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  await waitFor(() => emulator.callCount('/user/user_register') === 1, 'the first batch at user_register')
  run.child.kill('SIGINT')
  const exit = await run.exit
  t.equal(exit.code, 130, exit.stderr)
  const result = JSON.parse(exit.stdout)
  t.match(result, { created: 5, existing: 0, failed: 0, resumeFromLine: 7 })
  t.equal(result.records, 5 + result.notAttempted)
  t.equal(userCount(emulator), 5)
  t.equal(emulator.callCount('/user/user_register'), 1, 'nothing sent after the signal')
  t.match(exit.stderr, /SIGINT: stopping/)
})

t.test('SIGTERM exits 143; a second signal stops at once, the batch in flight not attempted', async (t) => {
  const { emulator, url } = await gateway(t)
  // The hung call still holds the gateway's connection to the emulator: close the emulator first.
  t.teardown(() => emulator.close())
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 20 }, (_, i) => `term_${i}`).join('\n') + '\n')
  emulator.injectFault('/user/user_register', { kind: 'hang' })
  const run = startCli([csv, '--batch-size', '5', '--concurrency', '1'], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  await waitFor(() => emulator.callCount('/user/user_register') === 1, 'the first batch at user_register')
  run.child.kill('SIGTERM')
  await run.until(/SIGTERM: stopping/, 'the first signal acknowledged')
  run.child.kill('SIGTERM')
  const exit = await run.exit
  t.equal(exit.code, 143, exit.stderr)
  t.match(exit.stderr, /second signal: stopping now/)
  const counts = summary(exit.stdout)!
  t.match(counts, { created: 0, existing: 0, failed: 0 })
  t.equal(counts.notAttempted, counts.records)
  t.equal(resumeLine(exit.stdout), 2)
})

t.test('SIGHUP (the terminal closed) stops gracefully like SIGTERM: the batch in flight is waited for and counted, exit 129', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\n' + Array.from({ length: 20 }, (_, i) => `hup_${i}`).join('\n') + '\n')
  const held = hold()
  emulator.injectFault('/user/user_register', held.fault)
  const run = startCli([csv, '--batch-size', '5', '--concurrency', '1', '--json'], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  await waitFor(() => emulator.callCount('/user/user_register') === 1, 'the first batch at user_register')
  run.child.kill('SIGHUP')
  await run.until(/SIGHUP: stopping/, 'the signal acknowledged')
  held.release()
  const exit = await run.exit
  t.equal(exit.code, 129, exit.stderr)
  t.match(JSON.parse(exit.stdout), { created: 5, existing: 0, failed: 0, resumeFromLine: 7 })
  t.equal(userCount(emulator), 5)
  t.equal(emulator.callCount('/user/user_register'), 1, 'nothing sent after the signal')
})

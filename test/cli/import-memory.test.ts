import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ADMIN, SERVICE_KEY } from '../helper.js'
import { folder, gateway, lines, runCli, summary } from './cli-helper.js'

// A line longer than any valid row is skipped to its end without being held: the CLI (64 MB heap, as `npm run
// import` runs it) reads a 100 MB line, fails it alone and imports the rows around it.

const HUGE = 100 * 1024 * 1024

/** Writes `before`, then `open` followed by 100 MB of "x" and `close`, then `after`, without holding the 100 MB. */
async function writeWithHugeLine (path: string, before: string, open: string, close: string, after: string) {
  const file = createWriteStream(path)
  file.write(before + open)
  const block = 'x'.repeat(1024 * 1024)
  for (let written = 0; written < HUGE; written += block.length) if (!file.write(block)) await once(file, 'drain')
  file.end(close + after)
  await once(file, 'close')
}

const imported = (emulator: { users: Map<string, unknown> }) => [...emulator.users.keys()].filter((userID) => userID !== ADMIN).sort()

t.test('a CSV cell of 100 MB fails its row alone (INVALID_ROW, its line); the rows before and after are imported', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'huge.csv')
  const failures = join(dir, 'failed.ndjson')
  await writeWithHugeLine(csv, 'userID,ex\nh_1,\nh_2,\n', 'h_3,"', '"\n', 'h_4,\nh_5,\n')
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(imported(emulator), ['h_1', 'h_2', 'h_4', 'h_5'])
  const failed = lines(await readFile(failures, 'utf8'))
  t.same(failed.map(({ line, code }) => [line, code]), [[4, 'INVALID_ROW']])
  t.match(failed[0].message, /longer than the largest valid row/)
  t.same(summary(run.stdout), { records: 5, lines: 6, created: 4, existing: 0, failed: 1, notAttempted: 0 })
})

t.test('an NDJSON line of 100 MB fails alone; the lines before and after are imported', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const ndjson = join(dir, 'huge.ndjson')
  const failures = join(dir, 'failed.ndjson')
  await writeWithHugeLine(ndjson, '{"userID":"hn_1"}\n', '{"userID":"hn_2","ex":"', '"}\n', '{"userID":"hn_3"}\n')
  const run = await runCli([ndjson, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(imported(emulator), ['hn_1', 'hn_3'])
  t.same(lines(await readFile(failures, 'utf8')).map(({ line, code }) => [line, code]), [[2, 'INVALID_ROW']])
  t.same(summary(run.stdout), { records: 3, lines: 3, created: 2, existing: 0, failed: 1, notAttempted: 0 })
})

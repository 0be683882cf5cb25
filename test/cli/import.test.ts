import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ADMIN, SERVICE_KEY } from '../helper.js'
import { folder, gateway, lines, runCli, summary } from './cli-helper.js'

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
  t.match(summary(run.stdout), { records: 4, lines: 5, created: 2, existing: 0, failed: 2, notAttempted: 0 })
  t.match(emulator.users.get('csv_1'), { nickname: 'Smith, Ann', faceURL: 'https://x.example/a.png', ex: '{"plan":"pro"}' })
  t.equal(emulator.users.get('csv_3')?.nickname, 'csv_3', 'empty cells are left out')
  const failed = lines(await readFile(failures, 'utf8'))
  t.same(failed.map(({ line, code }) => [line, code]), [[3, 'INVALID_ROW'], [5, 'RESERVED_USER_ID']], 'in file order')
  t.match(failed[0].message, /5 fields where the header has 4/)

  const again = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.match(summary(again.stdout), { records: 4, created: 0, existing: 2, failed: 2 }, 'a re-run skips the users it created')
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
  t.same([...emulator.users.keys()].filter((userID) => userID !== ADMIN).sort(), ['nd-1', 'nd_4'])

  const clean = join(dir, 'clean.jsonl')
  await writeFile(clean, '{"userID":"nd-1"}\n{"userID":"nd_4"}\n')
  const rerun = await runCli([clean], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(rerun.code, 0)
  t.match(summary(rerun.stdout), { records: 2, lines: 2, created: 0, existing: 2, failed: 0, notAttempted: 0 })
})

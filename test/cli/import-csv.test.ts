import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ADMIN, SERVICE_KEY } from '../helper.js'
import { folder, gateway, lines, runCli, summary } from './cli-helper.js'

// A CSV's records are found by our own splitter, which resynchronises after a malformed record: every bad record
// fails alone, with the line it starts on, and the rest of the file is imported.

const imported = (emulator: { users: Map<string, unknown> }) => [...emulator.users.keys()].filter((userID) => userID !== ADMIN).sort()
const failedLines = async (path: string) => lines(await readFile(path, 'utf8')).map(({ line, code }) => [line, code])

t.test('an unterminated quote costs exactly its record: the rows after it are imported', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'q.csv')
  const failures = join(dir, 'failed.ndjson')
  await writeFile(csv, 'userID,nickname\nq_1,A\nq_4,"C\nq_5,D\nq_6,E\n')
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(imported(emulator), ['q_1', 'q_5', 'q_6'])
  t.same(await failedLines(failures), [[3, 'INVALID_ROW']])
  t.match(lines(await readFile(failures, 'utf8'))[0].message, /quote/)
  t.same(summary(run.stdout), { records: 4, lines: 5, created: 3, existing: 0, failed: 1, notAttempted: 0 })
})

t.test('with a BOM and CRLF line endings, a broken quote is reported at its own line, not at the end of the file', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'crlf.csv')
  const failures = join(dir, 'failed.ndjson')
  const rows = Array.from({ length: 2000 }, (_, i) => i === 51 ? `crlf_${i},"Broken` : `crlf_${i},User ${i}`)
  await writeFile(csv, '\uFEFFuserID,nickname\r\n' + rows.join('\r\n') + '\r\n')
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(await failedLines(failures), [[53, 'INVALID_ROW']], 'row 52 is on line 53: the BOM and the CRs add no line')
  t.equal(imported(emulator).length, 1999)
  t.notOk(emulator.users.has('crlf_51'))
  t.same(summary(run.stdout), { records: 2000, lines: 2001, created: 1999, existing: 0, failed: 1, notAttempted: 0 })
})

t.test('every malformed record fails alone with its line; quoted line breaks count as the lines they span', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'mixed.csv')
  const failures = join(dir, 'failed.ndjson')
  await writeFile(csv, Buffer.concat([
    Buffer.from(
      'userID,nickname,ex\n' + //                     1
      'm_1,Ann,"line one\nline two\nline three"\n' + // 2-4: one record over three lines
      'm_2,Ann "the" Smith,\n' + //                   5: a quote inside an unquoted field
      'm_3,Bob,\n' + //                               6
      'm_4,"Carl"x,\n' + //                           7: text after a closing quote
      'm_5,Dan,,extra\n' + //                         8: one field too many
      'm_6,Eve\n' + //                                9: one field too few
      '\n' + //                                      10: blank
      'm_7,"Fay, ""F""",\n' + //                     11: commas and doubled quotes inside quotes
      'm_8,a"b,\n' //                                12: a second stray quote (with line 5's, the quotes pair up)
    ),
    Buffer.from([0x6d, 0x5f, 0x39, 0x2c, 0xff, 0xfe, 0x00, 0x22, 0x2c, 0x0a]), // 13: binary garbage, not UTF-8
    Buffer.from('m_10,Gus,\n') //                     14
  ]))
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(await failedLines(failures), [[5, 'INVALID_ROW'], [7, 'INVALID_ROW'], [8, 'INVALID_ROW'], [9, 'INVALID_ROW'],
    [12, 'INVALID_ROW'], [13, 'INVALID_ROW']], 'in file order')
  t.same(imported(emulator), ['m_1', 'm_10', 'm_3', 'm_7'])
  t.equal((emulator.users.get('m_1') as { ex: string }).ex, 'line one\nline two\nline three')
  t.equal((emulator.users.get('m_7') as { nickname: string }).nickname, 'Fay, "F"')
  const messages = lines(await readFile(failures, 'utf8')).map(({ message }) => message)
  t.match(messages, [/quote/, /quote/, /4 fields where the header has 3/, /2 fields where the header has 3/, /quote/, /UTF-8/])
  t.same(summary(run.stdout), { records: 10, lines: 14, created: 4, existing: 0, failed: 6, notAttempted: 0 })
})

t.test('--max-record-lines: a quoted field may span that many lines; past it the record fails and parsing restarts after its first line', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'long.csv')
  const failures = join(dir, 'failed.ndjson')
  await writeFile(csv, 'userID,ex\n' +
    'ml_1,"a\nb\nc"\n' + //   2-4: three lines, allowed
    'ml_2,"a\nb\nc\nd"\n' + // 5-8: four lines, too many
    'ml_3,x\n') //           9
  const run = await runCli([csv, '--failures', failures, '--max-record-lines', '3'], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(await failedLines(failures), [[5, 'INVALID_ROW'], [6, 'INVALID_ROW'], [7, 'INVALID_ROW'], [8, 'INVALID_ROW']])
  t.match(lines(await readFile(failures, 'utf8'))[0].message, /not closed within 3 lines/)
  t.same(imported(emulator), ['ml_1', 'ml_3'])
  t.same(summary(run.stdout), { records: 6, lines: 9, created: 2, existing: 0, failed: 4, notAttempted: 0 })
  const bad = await runCli([csv, '--max-record-lines', '0'], { GATEWAY_URL: url })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--max-record-lines must be a whole number of at least 1/)
})

t.test('NDJSON: a BOM on the first line is accepted, CRLF adds no line, blank lines are not records', async (t) => {
  const { emulator, url } = await gateway(t)
  const dir = await folder(t)
  const ndjson = join(dir, 'users.ndjson')
  const failures = join(dir, 'failed.ndjson')
  await writeFile(ndjson, '\uFEFF{"userID":"nb_1"}\r\n\r\n{"userID":"nb_2",\r\n{"userID":"nb_3"}\r\n[1]\r\n{"userID":"nb_4"}')
  const run = await runCli([ndjson, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(run.code, 1, run.stderr)
  t.same(imported(emulator), ['nb_1', 'nb_3', 'nb_4'])
  t.same(await failedLines(failures), [[3, 'INVALID_ROW'], [5, 'INVALID_ROW']])
  t.same(summary(run.stdout), { records: 5, lines: 6, created: 3, existing: 0, failed: 2, notAttempted: 0 })
})

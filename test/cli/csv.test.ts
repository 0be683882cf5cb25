import t from 'tap'
import { CsvRecords, type CsvRecord } from '../../src/cli/csv.js'
import { LineSplitter } from '../../src/cli/lines.js'

// The CSV record splitter on its own: records over several lines, and how it resynchronises after a bad one.

function records (text: string, maxLines = 100, maxBytes = 1000): CsvRecord[] {
  const splitter = new LineSplitter(maxBytes)
  const csv = new CsvRecords(maxLines, maxBytes)
  const found: CsvRecord[] = []
  for (const line of [...splitter.push(Buffer.from(text)), ...splitter.end()]) found.push(...csv.accept(line))
  found.push(...csv.end())
  return found
}

const shape = (found: CsvRecord[]) => found.map(({ line, nextLine, fields, problem }) => [line, nextLine, fields ?? problem])

t.test('fields: quoted, doubled quotes, commas and line breaks inside quotes (kept as written), empty fields', async (t) => {
  t.same(shape(records('a,"b,""c""",\r\n"d\r\ne",f\n\n"",x\n')), [
    [1, 2, ['a', 'b,"c"', '']],
    [2, 4, ['d\r\ne', 'f']],
    [5, 6, ['', 'x']]
  ])
})

t.test('a quote in the wrong place fails its record on that line, the next line starts afresh', async (t) => {
  t.match(shape(records('a"b,c\n"a"b,c\nok\n')), [
    [1, 2, /field 1 has a quote but does not start with one/],
    [2, 3, /field 1 has text after its closing quote/],
    [3, 4, ['ok']]
  ])
})

t.test('an unclosed quote fails its record at its first line; the lines after it are read again', async (t) => {
  t.match(shape(records('a,"b\nc,d\ne,f\n')), [[1, 2, /not closed by the end of the file/], [2, 3, ['c', 'd']], [3, 4, ['e', 'f']]])
  t.match(shape(records('a,"b\nc\nd"\ne\n', 2)), [[1, 2, /not closed within 2 lines/], [2, 3, ['c']], [3, 4, /field 1 has a quote/], [4, 5, ['e']]])
  t.match(shape(records('a,"b\nc"x\nd\n')), [
    [1, 2, /not closed properly \(line 2: field 2 has text after its closing quote/],
    [2, 3, /field 1 has a quote but does not start with one/],
    [3, 4, ['d']]
  ])
})

t.test('an open record past maxBytes fails; a line too long inside one fails it, then fails alone', async (t) => {
  t.match(shape(records('a,"' + 'b\n'.repeat(30) + 'c\n', 100, 40)), [[1, 2, /not closed within the largest valid row \(40 bytes\)/], [2, 3, ['b']]])
  t.match(shape(records('a,"b\n' + 'x'.repeat(50) + '\nc\n', 100, 40)), [
    [1, 2, /not closed properly \(line 2: the line is longer than the largest valid row/],
    [2, 3, /longer than the largest valid row/],
    [3, 4, ['c']]
  ])
})

t.test('resynchronising twice in a row: a record read again may itself be unclosed', async (t) => {
  t.match(shape(records('"a\n"b\nc\n')), [[1, 2, /not closed properly \(line 2/], [2, 3, /not closed by the end of the file/], [3, 4, ['c']]])
})

import t from 'tap'
import { LineSplitter, type Line } from '../../src/cli/lines.js'

// The line splitter on its own: chunks cut anywhere, CRLF, a BOM, lines too long to hold, bytes that are not UTF-8.

function split (chunks: Array<string | Buffer>, maxBytes = 16): Line[] {
  const splitter = new LineSplitter(maxBytes)
  const lines: Line[] = []
  for (const chunk of chunks) lines.push(...splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)))
  lines.push(...splitter.end())
  return lines
}

const shape = (lines: Line[]) => lines.map(({ number, text, eol, bytes, problem }) => [number, text ?? problem, eol, bytes])

t.test('lines cut across chunks, CRLF cut between its two bytes, a last line without a break', async (t) => {
  t.same(shape(split(['ab', 'c\r', '\nde\n\n', 'f'])), [[1, 'abc', '\r\n', 5], [2, 'de', '\n', 3], [3, '', '\n', 1], [4, 'f', '', 1]])
  t.same(split([]), [], 'an empty file has no line')
  t.same(shape(split(['x\n'])), [[1, 'x', '\n', 2]], 'a final break adds no line')
})

t.test('a BOM is no part of line 1 (its bytes count); elsewhere it is text', async (t) => {
  t.same(shape(split(['\uFEFFa\n\uFEFFb\n'])), [[1, 'a', '\n', 5], [2, '\uFEFFb', '\n', 5]])
})

t.test('a line longer than maxBytes is reported by number and size without being held; the next lines are read', async (t) => {
  const splitter = new LineSplitter(16)
  const lines: Line[] = [...splitter.push(Buffer.from('ok\n' + 'x'.repeat(10)))]
  for (let i = 0; i < 100; i++) lines.push(...splitter.push(Buffer.from('y'.repeat(1000))))
  t.equal((splitter as unknown as { held: number }).held, 0, 'nothing of the long line is held')
  lines.push(...splitter.push(Buffer.from('z\nafter\n')), ...splitter.end())
  t.same(shape(lines), [
    [1, 'ok', '\n', 3],
    [2, 'the line is longer than the largest valid row (16 bytes): 100011 bytes', '\n', 100012],
    [3, 'after', '\n', 6]
  ])
  t.same(shape(split(['x'.repeat(16) + '\n'])), [[1, 'x'.repeat(16), '\n', 17]], 'exactly maxBytes is read')
})

t.test('bytes that are not UTF-8 make a line with a problem, not replacement characters', async (t) => {
  t.same(shape(split([Buffer.from([0x61, 0xff, 0x0a, 0x62, 0x0a])])), [[1, 'the line is not valid UTF-8 text', '\n', 3], [2, 'b', '\n', 2]])
})

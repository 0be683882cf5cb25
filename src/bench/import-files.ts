import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'

// The files bench:import feeds the CLI, written as streams (the 100 MB line is never held).

async function write (file: WriteStream, text: string) {
  if (!file.write(text)) await once(file, 'drain')
}

async function close (file: WriteStream) {
  file.end()
  await once(file, 'close')
}

/** A CSV of `users` valid rows (`prefix0`, `prefix1`, …), one per line after the header. */
export async function writeUsers (path: string, users: number, prefix: string) {
  const file = createWriteStream(path)
  await write(file, 'userID,nickname,faceURL,ex\n')
  for (let i = 0; i < users; i++) await write(file, `${prefix}${i},Bench User ${i},https://cdn.example.com/avatars/${i}.png,\n`)
  await close(file)
}

/** What a broken file holds: the lines of its three bad rows. */
export interface BrokenFile { brokenQuoteLine: number, overLimitLine: number, hugeLine: number }

const HUGE_BYTES = 100 * 1024 * 1024

/**
 * A CSV of `users` rows where three are bad: an unterminated quote at 30 %, a 40,000-character ex at 60 %, and a
 * line of 100 MB at 90 %. Every other row is valid.
 */
export async function writeBrokenUsers (path: string, users: number, prefix: string): Promise<BrokenFile> {
  const bad = { brokenQuote: Math.floor(users * 0.3), overLimit: Math.floor(users * 0.6), huge: Math.floor(users * 0.9) }
  const file = createWriteStream(path)
  await write(file, 'userID,nickname,faceURL,ex\n')
  const block = 'x'.repeat(1024 * 1024)
  for (let i = 0; i < users; i++) {
    if (i === bad.brokenQuote) {
      await write(file, `${prefix}${i},"Broken quote,,\n`)
    } else if (i === bad.overLimit) {
      await write(file, `${prefix}${i},Over limit,,${'e'.repeat(40_000)}\n`)
    } else if (i === bad.huge) {
      await write(file, `${prefix}${i},Huge,,`)
      for (let written = 0; written < HUGE_BYTES; written += block.length) await write(file, block)
      await write(file, '\n')
    } else {
      await write(file, `${prefix}${i},Bench User ${i},,\n`)
    }
  }
  await close(file)
  // Row i is on line i + 2 (the header is line 1).
  return { brokenQuoteLine: bad.brokenQuote + 2, overLimitLine: bad.overLimit + 2, hugeLine: bad.huge + 2 }
}

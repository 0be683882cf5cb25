import { readFileSync } from 'node:fs'
import t from 'tap'
import { EnvSchema } from '../../src/config/index.js'

// The configuration reference (docs/reference/configuration.md) is the operator's: every variable the gateway reads
// must have a row, and the row must show the default the code applies. (Ranges are written for people, in several
// forms, so they are checked by review, not here.)
const section = readFileSync(new URL('../../docs/reference/configuration.md', import.meta.url), 'utf8')

/** Each table row's variables (the `NAMES` in its first cell) with its default cell. */
const rows = section.split('\n').filter((line) => line.startsWith('| `')).map((line) => {
  const [first = '', defaultCell = ''] = line.slice(2).split(' | ')
  return { variables: [...first.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!), defaultCell }
})

t.test('every variable of the configuration schema has a row in the configuration reference, showing its default', async (t) => {
  t.ok(rows.length > 50, 'the tables are found')
  for (const [variable, schema] of Object.entries(EnvSchema.properties as Record<string, { default?: unknown }>)) {
    const row = rows.find((candidate) => candidate.variables.includes(variable))
    if (row === undefined) {
      t.fail(`${variable} has no row in docs/reference/configuration.md`)
      continue
    }
    if (schema.default !== undefined) t.match(row.defaultCell, `\`${String(schema.default)}\``, `${variable}: default ${String(schema.default)}`)
  }
})

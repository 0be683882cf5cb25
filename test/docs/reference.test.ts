import { readFile } from 'node:fs/promises'
import t from 'tap'
import Type from 'typebox'
import { EnvSchema } from '../../src/config/index.js'
import { ERROR_CODES } from '../../src/errors.js'
import { generateOpenApi } from '../../src/openapi-export.js'
import { settingsTable } from '../../src/reference/configuration.js'
import { generateReference, renderPages } from '../../src/reference/generate.js'

// The reference (docs/reference/) is generated from the code by `npm run docs`; these tests keep the committed pages
// in step with the code, and check that the generator leaves nothing out.
const committed = async (name: string) => await readFile(new URL(`../../docs/reference/${name}`, import.meta.url), 'utf8')
const BLOCKS = ['operations', 'components', 'errors', 'metrics'].map((kind) => `<!-- BEGIN npm run docs: ${kind} -->\n<!-- END npm run docs -->\n`)

t.test('the committed docs/reference/ pages are what `npm run docs` generates (run it after changing settings, routes, errors or metrics)',
  async (t) => {
    const pages = await generateReference()
    t.ok(pages.has('configuration.md') && pages.has('api.md') && pages.has('metrics.md'), 'the pages are found')
    for (const [name, text] of pages) t.equal(await committed(name), text, `docs/reference/${name} is up to date: run npm run docs`)
  })

t.test('every variable of the configuration schema has a row in the configuration reference, showing the default the code applies',
  async (t) => {
    const rows = (await committed('configuration.md')).split('\n').filter((line) => line.startsWith('| `'))
    for (const [variable, schema] of Object.entries(EnvSchema.properties as Record<string, { default?: unknown }>)) {
      const row = rows.find((line) => line.startsWith(`| \`${variable}\` |`))
      if (row === undefined) {
        t.fail(`${variable} has no row in docs/reference/configuration.md`)
        continue
      }
      if (schema.default !== undefined) t.equal(row.split(' | ')[1], `\`${String(schema.default)}\``, `${variable}: default ${String(schema.default)}`)
    }
  })

t.test('the API reference names every operationId and every component of the OpenAPI document', async (t) => {
  const api = await committed('api.md')
  const document = JSON.parse(await generateOpenApi())
  const ids = Object.values(document.paths).flatMap((item) => Object.values(item as Record<string, { operationId: string }>).map((operation) => operation.operationId))
  t.ok(ids.length > 0 && Object.keys(document.components.schemas).length > 0)
  for (const name of [...ids, ...Object.keys(document.components.schemas)]) t.match(api, `\`${name}\``, name)
})

t.test('the API reference has a row for every error code the gateway answers with, with its status', async (t) => {
  const api = await committed('api.md')
  for (const [code, { status }] of Object.entries(ERROR_CODES)) t.match(api, `| ${status} | \`${code}\` |`, code)
})

t.test('the generator refuses a reference that leaves a kind of table or a variable out, or names what does not exist', async (t) => {
  const config = (groups: string) => `<!-- BEGIN npm run docs: config ${groups} -->\nold\n<!-- END npm run docs -->\n`
  await t.rejects(renderPages(new Map([['a.md', config('OpenImEnv')]])), /has no operations, components, errors, metrics block/)
  await t.rejects(renderPages(new Map([['a.md', config('OpenImEnv') + BLOCKS.join('')]])), /HOST.* in no config block/)
  await t.rejects(renderPages(new Map([['a.md', config('NoSuchEnv')]])), /no settings group NoSuchEnv/)
  await t.rejects(renderPages(new Map([['a.md', '<!-- BEGIN npm run docs: routes -->\n<!-- END npm run docs -->\n']])), /unknown generated block "routes"/)
  await t.rejects(renderPages(new Map([['a.md', '<!-- BEGIN npm run docs: metrics -->\n']])), /a\.md: a generated block is not closed/)
})

t.test('a setting shows its default, range and description; a computed default shows its rule, and a setting without a description stops the generator',
  async (t) => {
    const groups = {
      Example: Type.Object({
        SIZE: Type.Integer({ minimum: 1, maximum: 9, default: 3, description: 'How many' }),
        TWICE: Type.Optional(Type.Integer({ minimum: 2, maximum: 18, description: 'Default: twice `SIZE`. How many more' })),
        NAME: Type.String({ minLength: 1, maxLength: 8, description: 'A name | with a bar' }),
        MODE: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a', description: 'Which' })
      }),
      Undescribed: Type.Object({ PLAIN: Type.String() }),
      Contradictory: Type.Object({ FIXED: Type.Integer({ default: 1, description: 'Default: 2. Which is it' }) })
    }
    const { markdown, variables } = settingsTable(['Example'], groups)
    t.same(variables, ['SIZE', 'TWICE', 'NAME', 'MODE'])
    t.same(markdown.split('\n').slice(2), [
      '| `SIZE` | `3` | 1–9 | How many |',
      '| `TWICE` | twice `SIZE` | 2–18 | How many more |',
      '| `NAME` | required | 1–8 characters | A name \\| with a bar |',
      '| `MODE` | `a` | `a`, `b` | Which |'
    ])
    t.throws(() => settingsTable(['Undescribed'], groups), /PLAIN has no description/)
    t.throws(() => settingsTable(['Contradictory'], groups), /FIXED: a "Default:" description is for optional settings/)
  })

import { readFile, readdir, writeFile } from 'node:fs/promises'
import { generateOpenApi } from '../openapi-export.js'
import { componentsTable, operationsTable, type OpenApiDocument } from './api.js'
import { gatewayVariables, settingsTable } from './configuration.js'
import { errorsTable } from './errors.js'
import { metricsTable } from './metrics.js'

// `npm run docs`: the tables of the reference (docs/reference/*.md) from the code. A page is written by hand; where
// it holds a block
//
//   <!-- BEGIN npm run docs: KIND ARGS -->
//   (anything: replaced)
//   <!-- END npm run docs -->
//
// the block's inside is generated: `config OpenImEnv ServerEnv` the variables of those settings schemas,
// `operations` and `components` from the OpenAPI document, `errors` the error codes, `metrics` the metrics registry.
// test/docs/reference.test.ts fails when the committed pages differ from what this writes.

const REFERENCE = new URL('../../docs/reference/', import.meta.url)
const BLOCK = /(<!-- BEGIN npm run docs: (\w+)((?: \w+)*) -->\n)[^]*?(<!-- END npm run docs -->)/g
/** Blocks the reference must hold somewhere, so nothing the code has goes undocumented. */
const REQUIRED_KINDS = ['config', 'operations', 'components', 'errors', 'metrics']

/** The pages (file name → text) with every generated block filled in from the code. */
export async function renderPages (pages: Map<string, string>): Promise<Map<string, string>> {
  const document = JSON.parse(await generateOpenApi()) as OpenApiDocument
  const documented = new Set<string>()
  const kinds = new Set<string>()
  const render = (kind: string, args: string[]): string => {
    kinds.add(kind)
    switch (kind) {
      case 'config': {
        const { markdown, variables } = settingsTable(args)
        for (const variable of variables) documented.add(variable)
        return markdown
      }
      case 'operations': return operationsTable(document)
      case 'components': return componentsTable(document)
      case 'errors': return errorsTable()
      case 'metrics': return metricsTable()
      default: throw new Error(`unknown generated block "${kind}" (known: ${REQUIRED_KINDS.join(', ')})`)
    }
  }
  const rendered = new Map<string, string>()
  for (const [name, page] of pages) {
    const begins = page.split('<!-- BEGIN npm run docs').length - 1
    if (begins !== [...page.matchAll(BLOCK)].length) throw new Error(`docs/reference/${name}: a generated block is not closed or malformed`)
    rendered.set(name, page.replace(BLOCK, (_block, begin: string, kind: string, args: string, end: string) =>
      `${begin}${render(kind, args.split(' ').filter((arg) => arg !== ''))}\n${end}`))
  }
  const missingKinds = REQUIRED_KINDS.filter((kind) => !kinds.has(kind))
  if (missingKinds.length > 0) throw new Error(`docs/reference/ has no ${missingKinds.join(', ')} block`)
  const undocumented = gatewayVariables().filter((variable) => !documented.has(variable))
  if (undocumented.length > 0) {
    throw new Error(`${undocumented.join(', ')} in no config block of docs/reference/: name its settings group in one ` +
      '(a new group goes into SETTINGS_GROUPS in src/reference/configuration.ts too)')
  }
  return rendered
}

/** Each page of docs/reference/ by file name, as `npm run docs` writes it. */
export async function generateReference (): Promise<Map<string, string>> {
  const names = (await readdir(REFERENCE)).filter((name) => name.endsWith('.md')).sort()
  const read = async (name: string) => [name, await readFile(new URL(name, REFERENCE), 'utf8')] as const
  return await renderPages(new Map(await Promise.all(names.map(read))))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, text] of await generateReference()) {
    const target = new URL(name, REFERENCE)
    if (text === await readFile(target, 'utf8')) continue
    await writeFile(target, text)
    console.log(`wrote ${target.pathname}`)
  }
}

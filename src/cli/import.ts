import { stat } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import envSchema from 'env-schema'
import Type from 'typebox'
import { Progress } from './progress.js'
import { InputError, readRows, type Format } from './rows.js'
import { FatalError, Uploader } from './uploader.js'

// `npm run import -- <file>`: streams a CSV or NDJSON file of users through POST /users/import of a
// running gateway. Exit 0 when every row was imported or existed, 1 when a row failed, 2 when the run
// could not be done (bad arguments, unreadable file, a refused API key).
const USAGE = `usage: npm run import -- <file.csv|file.ndjson> [options]

  GATEWAY_URL (required) and GATEWAY_API_KEY in the environment.
  --format csv|ndjson       default: from the file name (.csv, else NDJSON)
  --failures <path>         write every failed row there (NDJSON: line, userID, code, message)
  --concurrency <n>         requests in flight (default 4)
  --batch-size <n>          users per request (default 1000, at most the gateway's IMPORT_MAX_USERS)
  --retries <n>             retries of a batch after 5xx or network errors (default 5; 429 and 503 OVERLOADED are always waited out)
  --progress-interval <s>   seconds between progress lines when not on a terminal (default 5)
`

const CliEnv = Type.Object({
  GATEWAY_URL: Type.String({ pattern: '^https?://[^\\s]+$' }),
  GATEWAY_API_KEY: Type.Optional(Type.String({ minLength: 1 }))
})

class UsageError extends Error {}

function positive (value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  const number = Number(value)
  if (!Number.isFinite(number) || number < min) throw new UsageError(`--${name} must be a number of at least ${min}`)
  return number
}

// fetch refuses URLs with user:pass@ on every request, and its message quotes the URL, password included, into
// every failed row: stop at start-up instead, without repeating the value.
function refuseCredentials (gatewayUrl: string) {
  let url: URL
  try {
    url = new URL(gatewayUrl)
  } catch {
    throw new UsageError('GATEWAY_URL is not a valid URL (the gateway\'s address, e.g. http://localhost:3000)')
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError('GATEWAY_URL must not carry a user name or password (user:pass@); the gateway takes the API key from GATEWAY_API_KEY')
  }
}

function options (argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      failures: { type: 'string' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      retries: { type: 'string' },
      'progress-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) return undefined
  if (positionals.length !== 1) throw new UsageError('name exactly one file to import')
  const file = positionals[0]!
  const format = values.format ?? (/\.csv$/i.test(file) ? 'csv' : 'ndjson')
  if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format must be csv or ndjson')
  let env: Type.Static<typeof CliEnv>
  try {
    env = envSchema<Type.Static<typeof CliEnv>>({ schema: CliEnv, env: false, dotenv: false, data: Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== '')) })
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (GATEWAY_URL: the gateway's address, e.g. http://localhost:3000)`)
  }
  refuseCredentials(env.GATEWAY_URL)
  return {
    file,
    format: format as Format,
    failures: values.failures,
    concurrency: Math.floor(positive(values.concurrency, 'concurrency', 4)),
    batchSize: Math.floor(positive(values['batch-size'], 'batch-size', 1000)),
    retries: Math.floor(positive(values.retries, 'retries', 5, 0)),
    intervalMs: positive(values['progress-interval'], 'progress-interval', 5, 0.05) * 1000,
    gatewayUrl: env.GATEWAY_URL.replace(/\/+$/, ''),
    apiKey: env.GATEWAY_API_KEY
  }
}

async function main (): Promise<number> {
  let settings: ReturnType<typeof options>
  let size: number
  try {
    settings = options(process.argv.slice(2))
    if (settings === undefined) {
      process.stdout.write(USAGE)
      return 0
    }
    size = (await stat(settings.file)).size
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\n${USAGE}`)
    return 2
  }
  const progress = new Progress({
    totalBytes: size, tty: process.stderr.isTTY === true, intervalMs: settings.intervalMs, failuresPath: settings.failures, out: process.stdout, err: process.stderr
  })
  const uploader = new Uploader({
    ...settings,
    timeoutMs: 120_000,
    onDone: (outcomes) => progress.record(outcomes),
    onWait: (seconds, reason) => progress.waiting(seconds, reason)
  })
  try {
    for await (const row of readRows(settings.file, settings.format)) await uploader.add(row)
    await uploader.finish()
  } catch (error) {
    if (!(error instanceof FatalError || error instanceof InputError || (error as NodeJS.ErrnoException).code !== undefined)) throw error
    await progress.finish((error as Error).message)
    return 2
  }
  await progress.finish()
  return progress.tally.failed > 0 ? 1 : 0
}

process.exitCode = await main()

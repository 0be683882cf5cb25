import { isIPv4 } from 'node:net'
import { parseArgs } from 'node:util'
import envSchema from 'env-schema'
import Type from 'typebox'
import type { Format } from './rows.js'

export const USAGE = `usage: npm run import -- <file.csv|file.ndjson> [options]

  GATEWAY_URL (required, except with --dry-run) and GATEWAY_API_KEY in the environment.
  --format csv|ndjson       default: from the file name (.csv, else NDJSON)
  --failures <path>         write every failed row there (NDJSON: line, userID, code, message); added to with --from-line
  --from-line <n>           start at the record on line n (what an interrupted run prints); the lines before are only read
  --dry-run                 check every row and print the summary, without sending anything
  --json                    print the summary as one JSON object on stdout (everything else on stderr)
  --concurrency <n>         requests in flight (default 4)
  --batch-size <n>          records per request (default 1000, at most the gateway's IMPORT_MAX_USERS)
  --retries <n>             retries of a batch after 5xx or network errors (default 5; 429 and 503 OVERLOADED are always waited out)
  --max-record-lines <n>    lines a quoted CSV field may span (default 100); past them the record fails
  --progress-interval <s>   seconds between progress lines when not on a terminal (default 5)

  Exit 0: every record created or existing; 1: some failed; 2: usage, unreadable file or no gateway;
  129/130/143: stopped by SIGHUP/SIGINT/SIGTERM.
`

/** The CLI's variables (exported for the configuration reference, `npm run docs`). */
export const CliEnv = Type.Object({
  GATEWAY_URL: Type.String({
    pattern: '^https?://[^\\s]+$',
    description: 'The gateway\'s address, `http(s)://` without `user:pass@` (see [The import CLI](../guides/import.md#the-import-cli)); ' +
      'not needed with `--dry-run`'
  }),
  GATEWAY_API_KEY: Type.Optional(Type.String({
    minLength: 1,
    description: 'One key of the gateway\'s `GATEWAY_API_KEYS`: the part after `name:` (singular here: the CLI sends one key)'
  }))
})

export class UsageError extends Error {}

export interface Settings {
  file: string
  format: Format
  failures?: string
  fromLine: number
  dryRun: boolean
  json: boolean
  concurrency: number
  batchSize: number
  retries: number
  maxRecordLines: number
  intervalMs: number
  gatewayUrl: string
  apiKey?: string
}

function whole (value: string | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be a whole number of at least ${min}`)
  return Number(value)
}

function seconds (value: string | undefined, name: string, fallback: number, min: number): number {
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
    throw new UsageError('GATEWAY_URL must not carry a user name or password (user:pass@); ' +
      'the gateway takes the API key from GATEWAY_API_KEY')
  }
}

function gatewayEnv (required: boolean): { gatewayUrl: string, apiKey?: string } {
  const data = Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== ''))
  if (!required && data.GATEWAY_URL === undefined) return { gatewayUrl: '' }
  let env: Type.Static<typeof CliEnv>
  try {
    env = envSchema<Type.Static<typeof CliEnv>>({ schema: CliEnv, env: false, dotenv: false, data })
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (GATEWAY_URL: the gateway's address, e.g. http://localhost:3000)`)
  }
  refuseCredentials(env.GATEWAY_URL)
  return { gatewayUrl: env.GATEWAY_URL.replace(/\/+$/, ''), apiKey: env.GATEWAY_API_KEY }
}

/** The settings from the command line and the environment; undefined for --help. Throws UsageError. */
export function settings (argv: string[]): Settings | undefined {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      failures: { type: 'string' },
      'from-line': { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      retries: { type: 'string' },
      'max-record-lines': { type: 'string' },
      'progress-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) return undefined
  if (positionals.length !== 1) throw new UsageError('name exactly one file to import')
  const file = positionals[0]!
  const format = values.format ?? (/\.csv$/i.test(file) ? 'csv' : 'ndjson')
  if (format !== 'csv' && format !== 'ndjson') throw new UsageError('--format must be csv or ndjson')
  const dryRun = values['dry-run'] === true
  return {
    file,
    format,
    failures: values.failures,
    fromLine: whole(values['from-line'], 'from-line', 1, 1),
    dryRun,
    json: values.json === true,
    concurrency: whole(values.concurrency, 'concurrency', 4, 1),
    batchSize: whole(values['batch-size'], 'batch-size', 1000, 1),
    retries: whole(values.retries, 'retries', 5, 0),
    maxRecordLines: whole(values['max-record-lines'], 'max-record-lines', 100, 1),
    intervalMs: seconds(values['progress-interval'], 'progress-interval', 5, 0.05) * 1000,
    ...gatewayEnv(!dryRun)
  }
}

/**
 * A warning when GATEWAY_API_KEY would cross a network in clear text: http:// to a host other than this machine.
 * Not refused: a gateway behind a private network or a sidecar may be meant; the operator should know.
 */
export function clearTextKeyWarning ({ gatewayUrl, apiKey, dryRun }: Settings): string | undefined {
  if (dryRun || apiKey === undefined) return undefined
  const url = new URL(gatewayUrl)
  if (url.protocol !== 'http:' || isLoopback(url.hostname)) return undefined
  return `warning: GATEWAY_API_KEY is sent in clear text to ${url.host} (GATEWAY_URL is http://, not https://): ` +
    'anyone on the network between can read it\n'
}

function isLoopback (hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true
  if (isIPv4(host)) return host.startsWith('127.')
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1; the URL parser gives ::ffff:7f00:1).
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(host)
}

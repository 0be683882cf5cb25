import Type from 'typebox'
import { commaList, fail, httpUrl, withoutCredentials } from './shared.js'

// OpenTelemetry tracing, configured by the variables the OpenTelemetry specification defines. Tracing is off
// (and no OpenTelemetry code is loaded) unless an OTLP endpoint is set.
export const TracingEnv = Type.Object({
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({
    pattern: httpUrl,
    description: 'The OTLP/HTTP base URL (`http(s)://`), e.g. `http://otel-collector:4318` (spans go to `…/v1/traces`); tracing is ' +
      'off while unset; no `user:pass@` (credentials go in `OTEL_EXPORTER_OTLP_HEADERS`)'
  })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({
    pattern: httpUrl,
    description: 'The full URL for spans instead, used as it is (wins over the base URL); no `user:pass@`'
  })),
  OTEL_EXPORTER_OTLP_HEADERS: Type.Optional(Type.String({
    description: '`name=value,…` sent with every export (a backend\'s API key; values percent-encoded); never logged'
  })),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: Type.Optional(Type.String({
    description: 'The same for spans only, added to `OTEL_EXPORTER_OTLP_HEADERS` (a name in both takes this value)'
  })),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(Type.String({
    description: 'Default: `http/protobuf`. The only protocol the gateway speaks; anything else (`grpc`, `http/json`) stops start-up ' +
      'instead of exporting nothing'
  })),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Type.Optional(Type.String({ description: 'Default: `http/protobuf`. The same for spans only' })),
  OTEL_SERVICE_NAME: Type.String({ minLength: 1, maxLength: 255, default: 'openim-gateway', description: 'The service name traces carry' }),
  OTEL_TRACES_SAMPLER: Type.String({
    default: 'always_on',
    description: '`always_on`, `always_off` or `traceidratio`; the `parentbased_*` samplers are refused (see ' +
      '[Sampling](../operators/tracing.md#sampling))'
  }),
  OTEL_TRACES_SAMPLER_ARG: Type.Optional(Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'Default: `1`. The ratio of traces kept by `traceidratio` (only with `traceidratio`)'
  })),
  OTEL_SDK_DISABLED: Type.Boolean({ default: false, description: '`true` keeps tracing off even with an endpoint set' })
})

export type Sampler = 'always_on' | 'always_off' | 'traceidratio'

export interface TracingConfig {
  /** Where spans are POSTed as OTLP/HTTP protobuf. */
  tracesUrl: string
  /** Sent with every export (an API key for a hosted backend): a credential, never logged. */
  headers: Record<string, string>
  serviceName: string
  sampler: Sampler
  /** The share of traces kept by `traceidratio` (1 for the other samplers). */
  ratio: number
}

export interface TracingSettings {
  /** Undefined when tracing is off: no OTLP endpoint, or OTEL_SDK_DISABLED=true. */
  tracing?: TracingConfig
}

const SAMPLERS: readonly string[] = ['always_on', 'always_off', 'traceidratio'] satisfies Sampler[]

/** The specification's `key=value,key=value` list, values percent-encoded. The values never appear in a message. */
function parseHeaders (variable: string, value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const entry of commaList(value)) {
    const separator = entry.indexOf('=')
    const name = entry.slice(0, separator).trim()
    if (separator <= 0 || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) fail(`${variable} must be comma-separated name=value pairs`)
    try {
      headers[name.toLowerCase()] = decodeURIComponent(entry.slice(separator + 1).trim())
    } catch {
      fail(`${variable}: the value of "${name}" is not valid percent-encoding`)
    }
  }
  return headers
}

function checkProtocol (variable: string, value: string | undefined) {
  if (value !== undefined && value !== 'http/protobuf') {
    fail(`${variable}: only http/protobuf is supported (OTLP over HTTP, usually port 4318); "${value}" is not`)
  }
}

function sampler (env: Type.Static<typeof TracingEnv>): { sampler: Sampler, ratio: number } {
  const name = env.OTEL_TRACES_SAMPLER
  if (name.startsWith('parentbased_')) {
    fail(`OTEL_TRACES_SAMPLER=${name} is not supported: a parent-based sampler obeys the caller's traceparent, so any ` +
      'browser could switch on full sampling. The gateway continues callers\' traces but samples by itself: use always_on, always_off ' +
      'or traceidratio')
  }
  if (!SAMPLERS.includes(name)) fail(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(', ')}`)
  if (env.OTEL_TRACES_SAMPLER_ARG !== undefined && name !== 'traceidratio') {
    fail('OTEL_TRACES_SAMPLER_ARG applies only to OTEL_TRACES_SAMPLER=traceidratio')
  }
  return { sampler: name as Sampler, ratio: name === 'traceidratio' ? env.OTEL_TRACES_SAMPLER_ARG ?? 1 : 1 }
}

// The exporter stops the process with a URL it cannot parse quoted whole, user:pass@ included: parsed here, where
// a failure names the variable only. Credentials belong in the headers variables, which are never logged.
const endpoint = (name: string, value: string | undefined) => value === undefined
  ? undefined
  : withoutCredentials(name, value, 'send them with OTEL_EXPORTER_OTLP_HEADERS (e.g. Authorization=Basic%20…), which is never logged')

/** The specification's rule: the generic endpoint is a base URL, the signal-specific one is used as it is. */
function tracesUrl (env: Type.Static<typeof TracingEnv>): string | undefined {
  const base = endpoint('OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT)
  const traces = endpoint('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  if (traces !== undefined) return traces
  if (base !== undefined) return `${base.replace(/\/+$/, '')}/v1/traces`
  return undefined
}

export function tracingSettings (env: Type.Static<typeof TracingEnv>): TracingSettings {
  // Checked even when tracing is off, so a mistake shows before someone sets the endpoint in production.
  checkProtocol('OTEL_EXPORTER_OTLP_PROTOCOL', env.OTEL_EXPORTER_OTLP_PROTOCOL)
  checkProtocol('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL)
  const headers = {
    ...parseHeaders('OTEL_EXPORTER_OTLP_HEADERS', env.OTEL_EXPORTER_OTLP_HEADERS),
    ...parseHeaders('OTEL_EXPORTER_OTLP_TRACES_HEADERS', env.OTEL_EXPORTER_OTLP_TRACES_HEADERS)
  }
  const sampling = sampler(env)
  const url = tracesUrl(env)
  if (url === undefined || env.OTEL_SDK_DISABLED) return { tracing: undefined }
  return { tracing: { tracesUrl: url, headers, serviceName: env.OTEL_SERVICE_NAME, ...sampling } }
}

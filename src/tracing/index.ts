import { AsyncLocalStorage } from 'node:async_hooks'
import { hostname } from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context, propagation, trace, type Context } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator, setGlobalErrorHandler } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { ATTR_HTTP_ROUTE, ATTR_SERVICE_NAME, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions'
import type { TracingConfig } from '../config/index.js'
import { ExportFailureReport, type WarnLogger } from './export-failures.js'
import { traceFlows } from './flow-spans.js'
import { sampler } from './sampling.js'

export interface TracingLogger extends WarnLogger { info (fields: object, message: string): void }

export interface Tracing {
  /** Pino options: trace_id, span_id and trace_flags on every line written inside a traced request. */
  loggerOptions: { mixin: () => Record<string, string> }
  /** Logs that tracing is on, and from then on failed span exports (once a minute at most). */
  logTo (log: TracingLogger): void
  /** Exports the spans still queued and stops tracing; call once the server has closed. */
  shutdown (): Promise<void>
}

const FLUSH_MS = 3000

// Probes, scrapes and the docs are called every few seconds and call nothing: tracing them is noise.
const UNTRACED = /^\/(healthz|readyz|metrics|docs)(?:[/?]|$)/

/**
 * Starts OpenTelemetry: call before the app is built. The SDK is configured from the validated settings,
 * with explicit values where it would otherwise read the environment; only the exporter's own
 * OTEL_EXPORTER_OTLP_COMPRESSION and TLS certificate variables are left to it.
 */
export function startTracing (settings: TracingConfig, openimUrl: string): Tracing {
  const exporter = new OTLPTraceExporter({ url: settings.tracesUrl, headers: settings.headers, timeoutMillis: 10_000 })
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, 'host.name': hostname() }),
    sampler: sampler(settings),
    // The specification's defaults, spelled out so that no OTEL_BSP_* variable changes them unnoticed.
    spanProcessors: [new BatchSpanProcessor(exporter, {
      maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000
    })]
  })
  const contextManager = new AsyncLocalStorageContextManager()
  provider.register({ contextManager, propagator: new W3CTraceContextPropagator() })
  const failures = new ExportFailureReport()
  setGlobalErrorHandler((error) => failures.record(error))

  const fastify = new FastifyOtelInstrumentation({
    // Instruments every Fastify instance as it is created (through Fastify's diagnostics channel).
    registerOnInitialization: true,
    // One span per request: hook and handler spans would multiply the cost and tell little here.
    instrumentHooks: false,
    instrumentHandler: false,
    // Error bodies already say what went wrong; stack traces would only add weight.
    recordExceptions: false,
    ignorePaths: ({ url }) => UNTRACED.test(url),
    // The not-found handler gets a span whatever the options say; give it a name that reads.
    lifecycleHook: (span, { hookName }) => { span.updateName(hookName) },
    requestHook: (span, request) => {
      const route = request.routeOptions.url
      span.updateName(route === undefined ? request.method : `${request.method} ${route}`)
      if (route !== undefined) span.setAttribute(ATTR_HTTP_ROUTE, route)
      // @fastify/otel records the URL with its query string, where credentials may travel: keep the path only.
      span.setAttribute(ATTR_URL_PATH, request.url.split('?', 1)[0] ?? '/')
    }
  })
  fastify.setTracerProvider(provider)
  const stopFlows = traceFlows(provider.getTracer('openim-gateway'), asyncStorageOf(contextManager), openimUrl)

  return {
    loggerOptions: { mixin: traceFields },
    logTo (log) {
      const { serviceName, sampler, ratio, tracesUrl } = settings
      // The host only: the URL may carry credentials.
      log.info({ tracing: { serviceName, sampler, ratio, endpointHost: new URL(tracesUrl).host } },
        'tracing on: exporting spans over OTLP/HTTP')
      failures.reportTo(log)
    },
    async shutdown () {
      fastify.disable()
      stopFlows()
      // The last spans are worth a short wait, not an unclean exit: a collector that is down gets FLUSH_MS.
      const flushed = provider.shutdown().then(() => true, (error: unknown) => { failures.record(error); return true })
      if (!await Promise.race([flushed, delay(FLUSH_MS, false, { ref: false })])) {
        failures.record(new Error(`the last spans were not exported within ${FLUSH_MS} ms`))
      }
      failures.flush()
      trace.disable()
      context.disable()
      propagation.disable()
    }
  }
}

// A new object every time: pino merges the line's own fields into it.
function traceFields (): Record<string, string> {
  const span = trace.getSpan(context.active())
  if (span === undefined) return {}
  const { traceId, spanId, traceFlags } = span.spanContext()
  return { trace_id: traceId, span_id: spanId, trace_flags: traceFlags & 1 ? '01' : '00' }
}

/**
 * The AsyncLocalStorage behind OpenTelemetry's context, so that a diagnostics channel can make a span the
 * active context (bindStore). The manager keeps it in a field it does not export; a version that renames
 * the field fails here, at start-up, rather than silently losing the parent of every OpenIM call span.
 */
function asyncStorageOf (manager: AsyncLocalStorageContextManager): AsyncLocalStorage<Context> {
  const storage = (manager as unknown as { _asyncLocalStorage?: unknown })._asyncLocalStorage
  if (!(storage instanceof AsyncLocalStorage)) {
    throw new Error('@opentelemetry/context-async-hooks no longer exposes its AsyncLocalStorage: pin the version in package.json')
  }
  return storage as AsyncLocalStorage<Context>
}

import type { AsyncLocalStorage } from 'node:async_hooks'
import diagnostics from 'node:diagnostics_channel'
import {
  SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Context, type Span, type Tracer
} from '@opentelemetry/api'
import { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions'
import { openImCallChannel } from '../openim/transport.js'
import { provisionChannel, type ProvisionResult } from '../provisioning/service.js'

interface Settled { error?: unknown, result?: unknown }

/**
 * Spans for what the gateway does inside a request: the provisioning flow and every OpenIM call, fed by
 * the tracing channels those modules publish. Each span is made the active context while its work runs
 * (bindStore), so OpenIM calls nest under the flow and the traceparent sent to OpenIM names the call's span.
 * Work outside a traced request (the readiness check) gets no span.
 */
export function traceFlows (tracer: Tracer, store: AsyncLocalStorage<Context>, openimUrl: string): () => void {
  const openim = new URL(openimUrl)
  const server = { address: openim.hostname, port: Number(openim.port || (openim.protocol === 'https:' ? 443 : 80)) }
  const spans = new WeakMap<object, Span>()

  const startSpan = (message: object, name: string, kind: SpanKind, attributes: () => Attributes): Context => {
    const parent = context.active()
    // Outside a traced request, or in one that is not sampled, no span of our own: the traceparent sent to
    // OpenIM then names the request's span, which is all an unsampled trace needs, and it costs nothing.
    if (trace.getSpan(parent)?.isRecording() !== true) return parent
    const span = tracer.startSpan(name, { kind, attributes: attributes() }, parent)
    spans.set(message, span)
    return trace.setSpan(parent, span)
  }

  /** Ends the message's span once its promise settled; tracePromise has set `result` or `error` on the message. */
  const endSpan = (message: unknown, attributes: (settled: Settled) => Attributes) => {
    const settled = message as Settled
    const span = spans.get(settled)
    if (span === undefined) return
    span.setAttributes(attributes(settled))
    if (settled.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: (settled.error as Error).message })
    span.end()
  }

  provisionChannel.start.bindStore(store as AsyncLocalStorage<unknown>, (message) =>
    startSpan(message, 'provision', SpanKind.INTERNAL,
      () => ({ 'openim.user_id': message.userID, 'openim.platform_id': message.platformID })))
  const endProvision = (message: unknown) => endSpan(message, ({ error, result }) =>
    error === undefined
      ? { 'provision.created': (result as ProvisionResult).created }
      : { [ATTR_ERROR_TYPE]: (error as { code?: string }).code ?? (error as { kind?: string }).kind ?? 'internal' })
  provisionChannel.asyncEnd.subscribe(endProvision)

  openImCallChannel.start.bindStore(store as AsyncLocalStorage<unknown>, (message) =>
    startSpan(message, `openim ${message.path}`, SpanKind.CLIENT, () => ({
      [ATTR_SERVER_ADDRESS]: server.address,
      [ATTR_SERVER_PORT]: server.port,
      'openim.path': message.path,
      'openim.operation_id': message.operationID
    })))
  const endCall = (message: unknown) => endSpan(message, ({ error }) => {
    if (error === undefined) return { 'openim.outcome': 'ok' }
    const { kind, errCode } = error as { kind?: string, errCode?: number }
    return {
      'openim.outcome': kind ?? 'error',
      ...(errCode !== undefined && { 'openim.err_code': errCode }),
      [ATTR_ERROR_TYPE]: kind ?? 'error'
    }
  })
  openImCallChannel.asyncEnd.subscribe(endCall)

  // undici announces every request it creates, in the caller's async context: the one bound above.
  const injectTraceparent = (message: unknown) => {
    const { request } = message as { request: { origin?: unknown, addHeader (name: string, value: string): void } }
    if (request.origin !== openim.origin) return
    const carrier: Record<string, string> = {}
    propagation.inject(context.active(), carrier)
    for (const [name, value] of Object.entries(carrier)) request.addHeader(name, value)
  }
  diagnostics.subscribe('undici:request:create', injectTraceparent)

  return () => {
    provisionChannel.start.unbindStore(store as AsyncLocalStorage<unknown>)
    provisionChannel.asyncEnd.unsubscribe(endProvision)
    openImCallChannel.start.unbindStore(store as AsyncLocalStorage<unknown>)
    openImCallChannel.asyncEnd.unsubscribe(endCall)
    diagnostics.unsubscribe('undici:request:create', injectTraceparent)
  }
}

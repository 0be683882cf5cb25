import { buildApp } from '../../src/http/app.js'
import { startTracing } from '../../src/tracing/index.js'
import { LogCapture, gatewayConfig, startOpenIm } from '../helper.js'
import { startOtlpReceiver, type ReceivedSpan } from '../otlp-receiver.js'

// The gateway in-process with tracing on, as src/server.ts starts it, exporting to a local OTLP receiver;
// OpenIM is the emulator over real HTTP. `finish()` closes the app and shuts tracing down, which flushes.
export async function tracedGateway (t: { teardown (fn: () => unknown): void }, env: Record<string, string> = {}) {
  const receiver = await startOtlpReceiver(t)
  const emulator = await startOpenIm(t)
  // A generous OpenIM deadline: these tests are about spans, not speed, and must hold on a loaded machine.
  const config = gatewayConfig(emulator.url, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OPENIM_TIMEOUT_MS: '10000', ...env })
  const tracing = startTracing(config.tracing!, config.openim.apiUrl)
  const logs = new LogCapture()
  const app = await buildApp({ config, logger: { level: 'debug', stream: logs.stream, ...tracing.loggerOptions } })
  tracing.logTo(app.log)
  let finished = false
  const finish = async () => {
    if (finished) return
    finished = true
    await app.close()
    await tracing.shutdown()
  }
  t.teardown(finish)
  return { app, emulator, receiver, logs, finish }
}

export const byName = (spans: ReceivedSpan[], name: string) => spans.filter((span) => span.name === name)

export const only = (spans: ReceivedSpan[], name: string) => {
  const found = byName(spans, name)
  if (found.length !== 1) throw new Error(`expected one "${name}" span, got ${found.length}: ${spans.map((span) => span.name).join(', ')}`)
  return found[0]!
}

import t from 'tap'
import { provision } from '../helper.js'
import { byName, only, tracedGateway } from './traced-gateway.js'

// Whether a request is traced is the gateway's decision, never the caller's: neither the sampled flag nor the
// trace id of a caller's traceparent may switch recording on.

t.test('an incoming traceparent is continued, but its sampled flag does not decide', async (t) => {
  const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736'
  const callerSpan = '00f067aa0ba902b7'

  t.test('always_on keeps a trace the caller did not sample', async (t) => {
    const { app, emulator, receiver, finish } = await tracedGateway(t)
    await provision(app, { userID: 'carol', platformID: 5 }, { traceparent: `00-${callerTrace}-${callerSpan}-00` })
    await finish()
    const server = only(receiver.spans, 'POST /provision')
    t.equal(server.traceId, callerTrace)
    t.equal(server.parentSpanId, callerSpan)
    t.ok(receiver.spans.every((span) => span.traceId === callerTrace))
    t.ok(emulator.recentCalls.every((call) => call.traceparent?.startsWith(`00-${callerTrace}-`) && call.traceparent.endsWith('-01')))
  })

  t.test('a caller cannot switch sampling on: with always_off nothing is exported, and OpenIM is told "not sampled"', async (t) => {
    const { app, emulator, receiver, logs, finish } = await tracedGateway(t, { OTEL_TRACES_SAMPLER: 'always_off' })
    const response = await provision(app, { userID: 'dave', platformID: 5 }, { traceparent: `00-${callerTrace}-${callerSpan}-01` })
    t.equal(response.statusCode, 201)
    await finish()
    t.same(receiver.spans, [])
    t.ok(emulator.recentCalls.length > 0)
    t.ok(emulator.recentCalls.every((call) => call.traceparent?.startsWith(`00-${callerTrace}-`) && call.traceparent.endsWith('-00')))
    const completed = logs.records.find((record) => record.msg === 'request completed')
    t.match(completed, { trace_id: callerTrace, trace_flags: '00' }, 'the log still links to the caller\'s trace')
  })
})

t.test('traceidratio samples by trace id: ratio 0 keeps nothing, ratio 1 everything', async (t) => {
  for (const [ratio, kept] of [['0', false], ['1', true]] as const) {
    const { app, receiver, finish } = await tracedGateway(t, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: ratio })
    await provision(app, { userID: `erin_${ratio}`, platformID: 5 })
    await finish()
    t.equal(receiver.spans.length > 0, kept, `ratio ${ratio}`)
  }
})

t.test('traceidratio does not decide a caller\'s trace on its trace id, which the caller chooses', async (t) => {
  const callerSpan = '00f067aa0ba902b7'

  t.test('low trace ids, which the ratio sampler always keeps, are kept no more often than others', async (t) => {
    // At 1e-6 the trace-id sampler keeps every id whose 32-bit words XOR below 4294: 000…001 to 000…014 all.
    const { app, emulator, receiver, logs, finish } = await tracedGateway(t, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.000001' })
    const traceIds = Array.from({ length: 20 }, (_, i) => (i + 1).toString(16).padStart(32, '0'))
    for (const [i, traceId] of traceIds.entries()) {
      const response = await provision(app, { userID: 'lou', platformID: 5 }, { traceparent: `00-${traceId}-${callerSpan}-0${i % 2}` })
      t.ok([200, 201].includes(response.statusCode))
    }
    await finish()
    t.same(receiver.spans, [], 'nothing recorded')
    // The trace continues all the same: OpenIM and the logs carry the caller's trace id, flagged "not sampled".
    const forwarded = new Set(emulator.recentCalls.map((call) => call.traceparent?.slice(3, 35)))
    t.ok(traceIds.every((traceId) => forwarded.has(traceId)), 'each caller\'s trace id went on to OpenIM')
    t.ok(emulator.recentCalls.every((call) => call.traceparent?.endsWith('-00')))
    const completed = logs.records.filter((record) => record.msg === 'request completed').map((record) => record.trace_id)
    t.same(completed, traceIds, 'each request\'s log line names the caller\'s trace')
  })

  t.test('one trace id is sometimes kept and sometimes not: the decision is a draw, and a kept request joins the caller\'s trace', async (t) => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736'
    const { app, receiver, finish } = await tracedGateway(t, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' })
    const requests = 20
    for (let i = 0; i < requests; i++) await provision(app, { userID: 'mia', platformID: 5 }, { traceparent: `00-${callerTrace}-${callerSpan}-01` })
    await finish()
    const kept = byName(receiver.spans, 'POST /provision')
    // A fair draw keeps all 20 or none with probability 2 × 2^-20; a decision on the trace id always does one or the other.
    t.ok(kept.length > 0 && kept.length < requests, `${kept.length} of ${requests} kept`)
    t.ok(kept.every((span) => span.traceId === callerTrace && span.parentSpanId === callerSpan), 'under the caller\'s span')
  })
})

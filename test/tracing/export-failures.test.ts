import t from 'tap'
import { ExportFailureReport } from '../../src/tracing/export-failures.js'

function report () {
  let now = 0
  const warnings: Array<Record<string, unknown>> = []
  const failures = new ExportFailureReport(() => now)
  return { failures, warnings, log: { warn: (fields: object) => { warnings.push(fields as Record<string, unknown>) } }, advance: (ms: number) => { now += ms } }
}

t.test('failures before there is a log are counted, then reported', async (t) => {
  const { failures, warnings, log } = report()
  failures.record(new Error('connect ECONNREFUSED'))
  failures.record(new Error('connect ECONNREFUSED'))
  t.same(warnings, [])
  failures.reportTo(log)
  t.same(warnings, [{ failures: 2, lastError: 'connect ECONNREFUSED' }])
})

t.test('at most one warning a minute, counting what it did not report', async (t) => {
  const { failures, warnings, log, advance } = report()
  failures.reportTo(log)
  t.same(warnings, [], 'nothing to report')
  failures.record(new Error('first'))
  for (let i = 0; i < 5; i++) { advance(10_000); failures.record('Bad Gateway') }
  t.same(warnings, [{ failures: 1, lastError: 'first' }])
  advance(10_000)
  failures.record(new Error('x'.repeat(500)))
  t.equal(warnings.length, 2)
  t.match(warnings[1], { failures: 6 })
  t.equal((warnings[1]!.lastError as string).length, 200, 'messages are cut short')
  failures.record(new Error('at shutdown'))
  failures.flush()
  t.same(warnings[2], { failures: 1, lastError: 'at shutdown' }, 'flush reports what is left')
})

import t from 'tap'
import { skewFromDates } from '../../src/doctor/checks/clock.js'
import type { RawAnswer } from '../../src/openim/diagnostics.js'

const answer = (sentAt: number, receivedAt: number, date?: string) => ({ sentAt, receivedAt, date }) as RawAnswer

t.test('answers stamped at different moments of their second narrow the skew below a second', async (t) => {
  // OpenIM 10.3 s ahead: its Date header shows the whole second of (local time + 10.3 s).
  const at = (local: number) => answer(local - 5, local + 5, new Date(Math.floor((local + 10_300) / 1000) * 1000).toUTCString())
  const skew = skewFromDates([at(1_000_000_100), at(1_000_000_500), at(1_000_000_900)])!
  t.ok(Math.abs(skew.skewMs - 10_300) <= 200, `estimate ${skew.skewMs} ms`)
  t.ok(skew.precisionMs < 300, `precision ±${skew.precisionMs} ms, better than one answer's ±500`)
})

t.test('answers that contradict each other (replicas with different clocks) fall back to the last one', async (t) => {
  const skew = skewFromDates([
    answer(1_000_000_000, 1_000_000_010, new Date(1_000_060_000).toUTCString()),
    answer(1_000_000_100, 1_000_000_110, new Date(1_000_000_000).toUTCString())
  ])!
  t.ok(Math.abs(skew.skewMs) <= 1000, `the last answer's ${skew.skewMs} ms`)
})

t.test('no Date header, no estimate', async (t) => {
  t.equal(skewFromDates([answer(1, 2), answer(3, 4, 'not a date')]), undefined)
})

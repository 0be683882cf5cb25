import { Registry, collectDefaultMetrics } from 'prom-client'
import { Metrics } from '../operations/metrics.js'
import { code, table } from './markdown.js'

// The metrics table: every metric the gateway registers, in the order src/operations/metrics.ts declares them.
// prom-client's default process metrics are left out (which of them exist depends on the platform); the page
// says they are there.

/** What prom-client keeps on each metric (its typings declare `type` as a number; it holds the name). */
interface Described { name: string, help: string, type: string, labelNames: readonly string[] }

export function metricsTable (): string {
  const defaults = new Registry()
  collectDefaultMetrics({ register: defaults })
  const defaultNames = defaults.getMetricsAsArray().map((metric) => metric.name)
  const isDefault = (name: string) => defaultNames.some((defaultName) => name.endsWith(defaultName))
  const metrics = new Metrics().registry.getMetricsAsArray() as unknown as Described[]
  const rows = metrics.filter((metric) => !isDefault(metric.name))
    .map(({ name, type, labelNames, help }) => [code(name), type, labelNames.map(code).join(', '), help])
  return table(['metric', 'type', 'labels', 'what it counts'], rows)
}

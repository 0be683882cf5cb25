import { styleText } from 'node:util'

export type Status = 'pass' | 'warn' | 'fail' | 'skip'

/** What one check found: one line, a hint naming the setting to change, and the facts behind it. */
export interface Outcome {
  status: Status
  summary: string
  /** For a failure or warning: what to change, naming the setting. */
  hint?: string
  /** What the finding means for the gateway, one short line each. */
  notes?: string[]
  /** Machine-readable figures and evidence for --json (never a credential). */
  facts?: Record<string, unknown>
}

export interface CheckResult extends Outcome {
  id: string
  title: string
  durationMs: number
}

export interface Report {
  doctor: 'openim-gateway'
  version: string
  node: string
  startedAt: string
  durationMs: number
  target: Record<string, unknown>
  ok: boolean
  counts: Record<Status, number>
  checks: CheckResult[]
}

const SYMBOLS: Record<Status, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' }
const COLOURS = { pass: 'green', warn: 'yellow', fail: 'red', skip: 'gray' } as const

export function summarize (checks: CheckResult[]): Pick<Report, 'ok' | 'counts'> {
  const counts: Record<Status, number> = { pass: 0, warn: 0, fail: 0, skip: 0 }
  for (const check of checks) counts[check.status] += 1
  return { ok: counts.fail === 0, counts }
}

/** One line per check (✓ ✗ ! -), the hint under each failure or warning, the notes under it. */
export function renderText (report: Report, colour: boolean): string {
  // The caller decides (a terminal, no NO_COLOR); styleText would otherwise check stdout again itself.
  const paint = (status: Status, text: string) => colour ? styleText(COLOURS[status], text, { validateStream: false }) : text
  const width = Math.max(...report.checks.map((check) => check.title.length))
  const lines = [`openim-gateway doctor ${report.version}: OpenIM at ${String(report.target.apiUrl)}`, '']
  for (const check of report.checks) {
    lines.push(`${paint(check.status, SYMBOLS[check.status])} ${check.title.padEnd(width)}  ${check.summary}`)
    if (check.hint !== undefined) lines.push(`  ${' '.repeat(width)}  ${paint(check.status, 'fix:')} ${check.hint}`)
    for (const note of check.notes ?? []) lines.push(`  ${' '.repeat(width)}  ${note}`)
  }
  if (report.target.write === true) {
    const created = report.target.created as string[]
    lines.push('', created.length === 0
      ? '--write created nothing in OpenIM: the probe users were there already (or could not be registered)'
      : `--write registered ${created.join(' and ')} in OpenIM; they stay (OpenIM cannot delete users) and later runs reuse them`)
  }
  const { pass, warn, fail, skip } = report.counts
  const warnings = `${warn} warning${warn === 1 ? '' : 's'}`
  lines.push('', `${report.ok ? 'healthy' : 'problems found'}: ${pass} ok, ${warnings}, ${fail} failing, ${skip} skipped ` +
    `(${Math.round(report.durationMs)} ms)`)
  return lines.join('\n') + '\n'
}

/**
 * Replaces every known credential in every string of the report. The checks never put one there; this is
 * the net under them, because a report is made to be pasted into public bug reports.
 */
export function scrub<T> (value: T, secrets: Iterable<string>): T {
  const needles = [...secrets].filter((secret) => secret.length >= MIN_SCRUBBED_LENGTH).sort((a, b) => b.length - a.length)
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string') return needles.reduce((text, needle) => text.replaceAll(needle, '[redacted]'), item)
    if (Array.isArray(item)) return item.map(walk)
    if (item !== null && typeof item === 'object') return Object.fromEntries(Object.entries(item).map(([key, entry]) => [key, walk(entry)]))
    return item
  }
  return walk(value) as T
}

// Shorter values would blank out ordinary words of the report; the checks themselves never print credentials.
const MIN_SCRUBBED_LENGTH = 6

/** A URL as it may be shown: no user, password, query or fragment (it says when credentials were left out). */
export function displayUrl (url: string): string {
  try {
    const parsed = new URL(url)
    const credentials = parsed.username !== '' || parsed.password !== ''
    parsed.username = ''
    parsed.password = ''
    parsed.search = ''
    parsed.hash = ''
    return `${parsed.toString().replace(/\/$/, '')}${credentials ? ' (credentials hidden)' : ''}`
  } catch {
    return '(not a URL)'
  }
}

import { readFileSync } from 'node:fs'
import { ConfigError, loadConfig, type Config } from '../config/index.js'
import { OpenImDiagnostics } from '../openim/diagnostics.js'
import { OpenImError } from '../openim/errors.js'
import { adminChecks } from './checks/admin.js'
import { clockChecks } from './checks/clock.js'
import { connectionChecks } from './checks/connection.js'
import { networkHint } from './checks/hints.js'
import { surroundingChecks } from './checks/surroundings.js'
import { writeChecks, writeSkipped } from './checks/write.js'
import { DoctorContext, type Check } from './context.js'
import { displayUrl, scrub, summarize, type CheckResult, type Outcome, type Report } from './report.js'

export interface DoctorOptions {
  env?: Record<string, string | undefined>
  /** Register the probe users and run the probes that change state in OpenIM. */
  write?: boolean
}

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Runs every check against the configured OpenIM and returns the report (credentials scrubbed). */
export async function runDoctor ({ env = process.env, write = false }: DoctorOptions = {}): Promise<Report> {
  const startedAt = new Date()
  const started = performance.now()
  let config: Config
  try {
    config = loadConfig(env, { requireCallerAuth: false })
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    const checks = [{
      id: 'config',
      title: 'Configuration',
      durationMs: 0,
      status: 'fail' as const,
      summary: error.message,
      hint: 'change the variable named above: the gateway refuses to start with it too'
    }]
    return scrub(report(startedAt, started, { apiUrl: displayUrl(env.OPENIM_API_URL ?? '') }, checks), [env.OPENIM_SECRET ?? ''])
  }
  const diagnostics = new OpenImDiagnostics(config.openim.apiUrl, config.openim.timeoutMs)
  const ctx = new DoctorContext(config, diagnostics)
  try {
    const checks = [...connectionChecks, ...adminChecks, ...clockChecks, ...(write ? writeChecks : [writeSkipped]), ...surroundingChecks]
    const results = await runChecks(ctx, checks)
    const target = {
      apiUrl: displayUrl(config.openim.apiUrl),
      apiMode: config.openim.apiMode,
      adminUserID: config.openim.adminUserID,
      timeoutMs: config.openim.timeoutMs,
      write,
      runId: ctx.runId,
      created: ctx.created
    }
    return scrub(report(startedAt, started, target, results), ctx.secrets)
  } finally {
    await diagnostics.close()
  }
}

/** In order; a check whose prerequisites failed is skipped. A check that throws fails, it never stops the run. */
export async function runChecks (ctx: DoctorContext, checks: Check[]): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  for (const check of checks) {
    const started = performance.now()
    const blocker = results.find((result) =>
      check.needs?.includes(result.id) === true && (result.status === 'fail' || result.status === 'skip'))
    let outcome: Outcome
    if (blocker !== undefined) {
      outcome = { status: 'skip', summary: `skipped: needs "${blocker.title}"` }
    } else {
      try {
        outcome = await check.run(ctx)
      } catch (error) {
        outcome = thrown(error)
      }
    }
    results.push({ id: check.id, title: check.title, ...outcome, durationMs: Math.round(performance.now() - started) })
  }
  return results
}

/** OpenIM going away (or hanging) in the middle of a check: said as plainly as at the first check. */
function thrown (error: unknown): Outcome {
  if (error instanceof OpenImError) return { status: 'fail', summary: `${error.message} (${error.path})`, hint: networkHint(error) }
  return {
    status: 'fail',
    summary: `the check itself failed: ${(error as Error).message}`,
    hint: 'a bug in the doctor: please report it with --json'
  }
}

function report (startedAt: Date, started: number, target: Record<string, unknown>, checks: CheckResult[]): Report {
  return {
    doctor: 'openim-gateway',
    version,
    node: process.version,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    target,
    ...summarize(checks),
    checks
  }
}

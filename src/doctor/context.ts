import { randomBytes } from 'node:crypto'
import { redisSecrets, type Config } from '../config/index.js'
import type { Detection } from '../openim/detection.js'
import type { OpenImDiagnostics, RawAnswer } from '../openim/diagnostics.js'
import { errCodeName, type OpenImError } from '../openim/errors.js'
import type { DialectRequest, TokenData } from '../openim/generations.js'
import type { CallContext } from '../openim/transport.js'
import type { Outcome } from './report.js'

export interface Check {
  id: string
  title: string
  /** Checks whose failure (or skip) leaves this one meaningless: it is skipped, naming them. */
  needs?: string[]
  run (ctx: DoctorContext): Promise<Outcome>
}

/** What the checks share: the settings, one raw OpenIM connection, and what earlier checks found. */
export class DoctorContext {
  /** Sent as every call's operationID prefix, so OpenIM's logs show what the doctor did. */
  readonly runId = `gwdoctor-${randomBytes(4).toString('hex')}`
  /** Every credential the run has seen: scrubbed from the report whatever a check wrote. */
  readonly secrets = new Set<string>()
  /** Every raw answer, for the clock check. */
  readonly answers: RawAnswer[] = []
  /** Users this run registered in OpenIM (--write). */
  readonly created: string[] = []
  detection?: Extract<Detection, { found: true }>
  adminToken?: TokenData
  /** Two tokens of the probe user, minted a second apart (--write). */
  probeTokens?: [string, string]
  private calls = 0

  constructor (readonly config: Config, readonly diagnostics: OpenImDiagnostics) {
    for (const secret of [config.openim.secret, ...config.auth.apiKeys.map((entry) => entry.key)]) this.secrets.add(secret)
    const source = config.auth.jwt?.source
    if (source?.kind === 'secret') this.secrets.add(source.secret)
    // As configured, and percent-encoded as REDIS_URL would hold it: the form a leak of the setting would show.
    for (const secret of redisSecrets(config.redis)) for (const form of [secret, encodeURIComponent(secret)]) this.secrets.add(form)
  }

  get timeoutMs (): number { return this.config.openim.timeoutMs }

  callContext (): CallContext {
    this.calls += 1
    return { operationID: `${this.runId}-${this.calls}` }
  }

  /** A raw POST to OpenIM, remembered for the clock check; tokens in the answer join the secrets. */
  async post (path: string, body: unknown, token?: string): Promise<RawAnswer> {
    const answer = await this.diagnostics.post(path, body, { ...this.callContext(), token })
    this.answers.push(answer)
    const data = answer.outcome.ok ? answer.outcome.data as { token?: unknown } | undefined : undefined
    if (typeof data?.token === 'string') this.secrets.add(data.token)
    return answer
  }

  /** One of the gateway's own requests (src/openim/generations.ts), with the admin token where it needs one. */
  send (request: DialectRequest): Promise<RawAnswer> {
    return this.post(request.path, request.body, request.needsAdminToken ? this.adminToken?.token : undefined)
  }

  /** The detected release (checks that need it run only after the generation check passed). */
  get release () {
    if (this.detection === undefined) throw new Error('no release detected yet')
    return this.detection.release
  }
}

/** An OpenIM refusal as shown in a report line: the errCode and its name, never errDlt. */
export function describeRefusal (error: OpenImError): string {
  if (error.kind !== 'rejected') return error.message
  return `errCode ${error.errCode} ${errCodeName(error.errCode)}`
}

/** The error of an answer that was not OpenIM's data. */
export const failureOf = (answer: RawAnswer): OpenImError | undefined => answer.outcome.ok ? undefined : answer.outcome.error

/** A check's verdict on a call that was expected to succeed. */
export function unexpected (what: string, answer: RawAnswer): Outcome {
  const error = failureOf(answer)
  return {
    status: 'fail',
    summary: `${what} failed: ${error === undefined ? 'unexpected answer' : describeRefusal(error)}`,
    hint: `not a setting of the gateway: OpenIM's logs for operationID ${answer.operationID} tell why; please report it with --json`
  }
}

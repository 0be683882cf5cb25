import { randomUUID } from 'node:crypto'
import type { OpenImClient } from '../openim/client.js'
import { OpenImError, type OpenImFailureKind } from '../openim/errors.js'

const REASONS = {
  unavailable: 'openim_unreachable',
  auth_failed: 'openim_auth_failed',
  timeout: 'openim_timeout',
  bad_response: 'openim_bad_response',
  rejected: 'openim_rejected',
  overloaded: 'gateway_overloaded'
} as const satisfies Record<OpenImFailureKind, string>

export type ReadinessReason = (typeof REASONS)[OpenImFailureKind]

export type Readiness = { ready: true } | { ready: false, reason: ReadinessReason, message: string }

/**
 * Whether OpenIM answers and accepts our admin token. Answers are reused for `cacheMs` and concurrent probes
 * share one check, so Kubernetes probing every replica does not hammer OpenIM.
 */
export class ReadinessCheck {
  private cached?: { answer: Readiness, at: number }
  private running?: Promise<Readiness>

  constructor (private readonly openim: OpenImClient, private readonly cacheMs: number, private readonly now: () => number = Date.now) {}

  check (): Promise<Readiness> {
    if (this.cached !== undefined && this.now() - this.cached.at < this.cacheMs) return Promise.resolve(this.cached.answer)
    this.running ??= this.probe().finally(() => { this.running = undefined })
    return this.running
  }

  private async probe (): Promise<Readiness> {
    let answer: Readiness
    try {
      await this.openim.checkReady({ operationID: `readyz-${randomUUID()}` })
      answer = { ready: true }
    } catch (error) {
      if (!(error instanceof OpenImError)) throw error
      answer = { ready: false, reason: REASONS[error.kind], message: error.message }
    }
    this.cached = { answer, at: this.now() }
    return answer
  }
}

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

export type OpenImReason = (typeof REASONS)[OpenImFailureKind]

/**
 * How a dependency looks from this replica: answering (ok), not answering (unreachable), answering but not
 * serving the gateway (degraded: OpenIM refusing the admin credentials, Redis refusing our commands), or not
 * set up at all (unconfigured: no Redis setting).
 */
export type DependencyState = 'ok' | 'unreachable' | 'degraded' | 'unconfigured'

/**
 * The replica's own life. Before it has started nothing listens, so probes are refused (not ready); once it
 * shuts down /readyz answers 503, whatever OpenIM does.
 */
export type Lifecycle = 'serving' | 'shutting_down'

export interface Readiness {
  ready: boolean
  /**
   * Why it is not ready: it is shutting down; OpenIM has never accepted this replica's settings (a wrong secret,
   * admin account or URL); or (READINESS_REQUIRES_OPENIM only) OpenIM's state.
   */
  reason?: 'shutting_down' | OpenImReason
  message?: string
  openim: DependencyState
  redis: DependencyState
}

interface OpenImProbe { state: Exclude<DependencyState, 'unconfigured'>, reason?: OpenImReason, message?: string }

const UNREACHABLE_KINDS: ReadonlySet<OpenImFailureKind> = new Set(['unavailable', 'timeout'])

export interface ReadinessOptions {
  openim: OpenImClient
  /** This replica's own state (plugins/shutdown.ts). */
  lifecycle: () => Lifecycle
  /** The probe's answer is reused this long, and concurrent probes share one OpenIM call. */
  cacheMs: number
  /** READINESS_REQUIRES_OPENIM: not ready while OpenIM is not ok, and while the event loop is saturated. */
  requiresOpenIm: boolean
  /** The shared Redis's state, or undefined without Redis. */
  redis?: () => Exclude<DependencyState, 'unconfigured'>
  /** Told when OpenIM's state changes (a log line, a gauge). */
  onOpenImState?: (state: Exclude<DependencyState, 'unconfigured'>, reason?: OpenImReason, message?: string) => void
  now?: () => number
}

/**
 * Whether this replica should receive traffic. By default that is its own state only (listening, not shutting
 * down): when OpenIM or Redis is down every replica is equally affected, and taking them all out of the
 * Service at once turns the gateway's JSON 503 with Retry-After into the ingress's error page and stalls
 * rollouts. The answer still reports OpenIM's and Redis's state, for people and dashboards. One exception: a
 * replica OpenIM has never once served, and that OpenIM answers but refuses (degraded: a wrong secret, admin
 * account or URL), is misconfigured rather than affected: it stays out of the Service, so a bad Secret or
 * ConfigMap stops a rollout instead of replacing every working pod.
 */
export class ReadinessCheck {
  private cached?: { probe: OpenImProbe, at: number }
  /** OpenIM has accepted this replica's admin credentials at least once. */
  private confirmed = false
  private running?: Promise<OpenImProbe>
  private readonly now: () => number

  constructor (private readonly options: ReadinessOptions) {
    this.now = options.now ?? Date.now
  }

  async check (): Promise<Readiness> {
    const openim = await this.probeOpenIm(this.options.requiresOpenIm)
    const redis: DependencyState = this.options.redis?.() ?? 'unconfigured'
    const states = { openim: openim.state, redis }
    if (this.options.lifecycle() === 'shutting_down') {
      return { ready: false, reason: 'shutting_down', message: 'the gateway is shutting down', ...states }
    }
    const misconfigured = !this.confirmed && openim.state === 'degraded'
    if ((this.options.requiresOpenIm || misconfigured) && openim.reason !== undefined) {
      return { ready: false, reason: openim.reason, message: openim.message, ...states }
    }
    return { ready: true, ...states }
  }

  /**
   * OpenIM's state, asked at most once per `cacheMs`. Unless readiness hangs on it (`wait`), a stale answer is
   * given at once while a new probe runs: a slow OpenIM (up to OPENIM_TIMEOUT_MS) must not make the probe
   * itself time out, which would take the replica out after all.
   */
  private async probeOpenIm (wait: boolean): Promise<OpenImProbe> {
    const cached = this.cached
    if (cached !== undefined && this.now() - cached.at < this.options.cacheMs) return cached.probe
    this.running ??= this.callOpenIm().finally(() => { this.running = undefined })
    return wait || cached === undefined ? await this.running : cached.probe
  }

  private async callOpenIm (): Promise<OpenImProbe> {
    let probe: OpenImProbe
    try {
      await this.options.openim.checkReady({ operationID: `readyz-${randomUUID()}` })
      probe = { state: 'ok' }
    } catch (error) {
      // Never a rejection: a probe may run in the background with nobody awaiting it.
      const kind: OpenImFailureKind = error instanceof OpenImError ? error.kind : 'bad_response'
      const message = error instanceof OpenImError ? error.message : 'the readiness probe failed unexpectedly'
      probe = { state: UNREACHABLE_KINDS.has(kind) ? 'unreachable' : 'degraded', reason: REASONS[kind], message }
    }
    if (probe.state === 'ok') this.confirmed = true
    if (probe.state !== this.cached?.probe.state) this.options.onOpenImState?.(probe.state, probe.reason, probe.message)
    this.cached = { probe, at: this.now() }
    return probe
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

const PREFIX = 'openim_gateway_'
const RENDER_EVERY_MS = 1000

/** The gateway's Prometheus metrics, in a registry of its own (one per app instance). */
export class Metrics {
  readonly registry = new Registry()

  readonly httpRequestDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Duration of HTTP requests served by the gateway, by route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry]
  })

  readonly openimCallDuration = new Histogram({
    name: `${PREFIX}openim_call_duration_seconds`,
    help: 'Duration of calls to OpenIM, by OpenIM path and outcome (ok, an errCode, or a failure kind)',
    labelNames: ['path', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry]
  })

  readonly provisions = new Counter({
    name: `${PREFIX}provisions_total`,
    help: 'Provisions by outcome (created, existing, reused: a remembered live token handed out again, failed, abandoned: ' +
      'stopped because every caller had gone) and, for failures, the error code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry]
  })

  readonly usersImported = new Counter({
    name: `${PREFIX}users_imported_total`,
    help: 'Users sent to POST /users/import by outcome (created, existing, failed) and, for failures, the code',
    labelNames: ['outcome', 'code'] as const,
    registers: [this.registry]
  })

  readonly sharedProvisions = new Counter({
    name: `${PREFIX}provisions_shared_total`,
    help: 'Provisions that joined the flow already running for the same user and platform instead of calling OpenIM themselves',
    registers: [this.registry]
  })

  readonly tokenStoreLookups = new Counter({
    name: `${PREFIX}token_store_lookups_total`,
    help: 'Remembered tokens looked up by provisions: hit (handed out again), miss (a token was minted), stale (OpenIM ' +
      'refused the remembered token, which was forgotten)',
    labelNames: ['result'] as const,
    registers: [this.registry]
  })

  readonly tokenStoreEvictions = new Counter({
    name: `${PREFIX}token_store_evictions_total`,
    help: 'Remembered tokens pushed out of this replica\'s memory by newer ones (TOKEN_CACHE_MAX_ENTRIES)',
    registers: [this.registry]
  })

  readonly mintLockWaits = new Counter({
    name: `${PREFIX}mint_lock_waits_total`,
    help: 'Provisions that found another flow minting for the same user and platform (on any replica) and waited for its token',
    registers: [this.registry]
  })

  readonly mintLockTakeovers = new Counter({
    name: `${PREFIX}mint_lock_takeovers_total`,
    help: 'Provisions that waited for another flow\'s mint and minted themselves, because that flow ended (failed, gave up, ' +
      'died) without a token',
    registers: [this.registry]
  })

  readonly mintLockAmbiguous = new Counter({
    name: `${PREFIX}mint_lock_ambiguous_total`,
    help: 'Requests for a mint lock in Redis whose outcome is unknown (timed out or cut off after being sent): the flow ' +
      'waited for Redis to answer rather than mint',
    registers: [this.registry]
  })

  readonly degradedMints = new Counter({
    name: `${PREFIX}mints_degraded_total`,
    help: 'Tokens minted without the cross-replica lock, while Redis was unavailable or refusing writes (at most one per ' +
      'user and platform per lease on each replica)',
    registers: [this.registry]
  })

  readonly adminTokenMints = new Counter({
    name: `${PREFIX}admin_token_mints_total`,
    help: 'Admin tokens minted from OpenIM, by API generation',
    labelNames: ['generation'] as const,
    registers: [this.registry]
  })

  readonly rateLimitRejections = new Counter({
    name: `${PREFIX}rate_limit_rejections_total`,
    help: 'Requests refused with 429 by the rate limiter, by route',
    labelNames: ['route'] as const,
    registers: [this.registry]
  })

  readonly authFailureRejections = new Counter({
    name: `${PREFIX}auth_failure_rejections_total`,
    help: 'Requests refused with 429 because their address had too many failed authentications',
    registers: [this.registry]
  })

  readonly connectionsRefused = new Counter({
    name: `${PREFIX}connections_refused_total`,
    help: 'Client connections closed on arrival, by listener (api, metrics) and limit (total: HTTP_MAX_CONNECTIONS; ' +
      'per_address: HTTP_MAX_CONNECTIONS_PER_ADDRESS)',
    labelNames: ['listener', 'limit'] as const,
    registers: [this.registry]
  })

  readonly openimState = new Gauge({
    name: `${PREFIX}openim_state`,
    help: 'OpenIM as the last readiness probe saw it: 1 for the current state (ok, unreachable: no answer, degraded: it ' +
      'answers but refuses the gateway), 0 for the others; updated when /readyz is probed',
    labelNames: ['state'] as const,
    registers: [this.registry]
  })

  readonly redisDegraded = new Gauge({
    name: `${PREFIX}redis_degraded`,
    help: '1 while Redis is unavailable (or refuses writes) and what shares state through it works per replica (rate ' +
      'limits, remembered tokens and mint locks from memory), else 0',
    registers: [this.registry]
  })

  private pendingOpenImCalls: () => number = () => 0

  readonly openimPendingCalls = new Gauge({
    name: `${PREFIX}openim_pending_calls`,
    help: 'Calls to OpenIM waiting for a pool connection (beyond OPENIM_MAX_PENDING_CALLS they are refused as OVERLOADED)',
    registers: [this.registry],
    collect: () => { this.openimPendingCalls.set(this.pendingOpenImCalls()) }
  })

  private rendered?: { at: number, text: Promise<string> }

  /**
   * The text exposition, rendered at most once per RENDER_EVERY_MS: concurrent and back-to-back scrapes
   * share one render. A render costs about a millisecond of CPU (histograms, default metrics), so a flood
   * of scrapes each rendering its own cut legitimate throughput 25–100×; Prometheus scrapes every 15–60 s
   * and never notices a second's staleness.
   */
  async exposition (): Promise<string> {
    const now = performance.now()
    if (this.rendered === undefined || now - this.rendered.at >= RENDER_EVERY_MS) {
      const text = this.registry.metrics()
      this.rendered = { at: now, text }
      // A failed render is not kept: the next scrape tries again.
      text.catch(() => { if (this.rendered?.text === text) this.rendered = undefined })
    }
    return await this.rendered.text
  }

  /** Where the pending-calls gauge reads its value at scrape time. */
  readPendingOpenImCalls (read: () => number) {
    this.pendingOpenImCalls = read
  }

  constructor () {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX })
  }
}

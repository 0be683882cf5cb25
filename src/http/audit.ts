import type { FastifyRequest } from 'fastify'
import { asGatewayError } from '../errors.js'
import { CallCancelled } from '../openim/transport.js'
import type { OnSettled } from '../provisioning/caller-wait.js'
import { CancelledAfterRegistering } from '../provisioning/registration.js'
import { callerLabel } from './auth.js'

export interface AuditEntry {
  /** What was asked: provision, revoke, and the profile and import routes' own names. */
  action: string
  /** The userID acted on; a batch (the import) names its size and results in `counts` instead. */
  target?: string
  counts?: { users: number, created: number, existing: number, failed: number }
  platformID?: number | number[]
  /**
   * How it ended: what changed (registered, minted, reused, revoked, …), refused (4xx) / failed (5xx) with
   * a code, or abandoned: stopped before it changed anything because every caller had gone.
   */
  outcome: string
  code?: string
  /** abandoned only: the user had been registered before the flow stopped (no token was minted). */
  registered?: true
}

/**
 * One structured line per state-changing call (message "audit", fields under `audit`): who asked (the
 * caller's label), what, for whom, on which platform, how it ended, and the requestId that finds the rest.
 * Never a token: an entry has no place for one, and the logger redacts `*.token` besides.
 */
export function audit (request: FastifyRequest, entry: AuditEntry): void {
  request.log.info({ audit: { ...entry, caller: callerLabel(request.caller), requestId: request.id } }, 'audit')
}

/**
 * Writes the audit line when the work settles rather than when its caller stops waiting: a caller that
 * left, or was answered 504, does not undo what was already sent to OpenIM. `done` names what a success
 * changed.
 */
export function auditWhenSettled<T> (request: FastifyRequest, entry: Omit<AuditEntry, 'outcome' | 'code'>,
  done: (value: T) => string): OnSettled<T> {
  return (settled) =>
    audit(request, { ...entry, ...(settled.ok ? { outcome: done(settled.value) } : failureOutcome(settled.error)) })
}

/** The outcome and code an error gives an audit entry. */
export function failureOutcome (error: unknown): Pick<AuditEntry, 'outcome' | 'code' | 'registered'> {
  if (error instanceof CancelledAfterRegistering) return { outcome: 'abandoned', registered: true }
  if (error instanceof CallCancelled) return { outcome: 'abandoned' }
  const gatewayError = asGatewayError(error)
  if (gatewayError === undefined) return { outcome: 'failed', code: 'INTERNAL_ERROR' }
  return { outcome: gatewayError.statusCode < 500 ? 'refused' : 'failed', code: gatewayError.code }
}

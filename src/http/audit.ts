import type { FastifyRequest } from 'fastify'
import { GatewayError, fromOpenImError } from '../errors.js'
import { OpenImError } from '../openim/errors.js'
import { callerLabel } from './auth.js'

export interface AuditEntry {
  /** What was asked: provision, revoke, and the profile and import routes' own names. */
  action: string
  /** The userID acted on; a batch (the import) names its size and results in `counts` instead. */
  target?: string
  counts?: { users: number, created: number, existing: number, failed: number }
  platformID?: number | number[]
  /** How it ended: what changed (registered, minted, revoked, …), or refused (4xx) / failed (5xx) with a code. */
  outcome: string
  code?: string
}

/**
 * One structured line per state-changing call (message "audit", fields under `audit`): who asked (the
 * caller's label), what, for whom, on which platform, how it ended, and the requestId that finds the rest.
 * Never a token: an entry has no place for one, and the logger redacts `*.token` besides.
 */
export function audit (request: FastifyRequest, entry: AuditEntry): void {
  request.log.info({ audit: { ...entry, caller: callerLabel(request.caller), requestId: request.id } }, 'audit')
}

/** The outcome and code an error gives an audit entry. */
export function failureOutcome (error: unknown): Pick<AuditEntry, 'outcome' | 'code'> {
  const gatewayError = error instanceof GatewayError ? error : error instanceof OpenImError ? fromOpenImError(error) : undefined
  if (gatewayError === undefined) return { outcome: 'failed', code: 'INTERNAL_ERROR' }
  return { outcome: gatewayError.statusCode < 500 ? 'refused' : 'failed', code: gatewayError.code }
}

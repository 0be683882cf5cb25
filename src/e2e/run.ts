import { randomBytes } from 'node:crypto'
import { OpenImClient } from '../openim/client.js'
import { adminRefusal, detectRelease, type Release } from '../openim/detection.js'
import { OpenImDiagnostics } from '../openim/diagnostics.js'
import { OpenImError } from '../openim/errors.js'
import { OpenImTransport } from '../openim/transport.js'
import { CheckFailed, E2E_CHECKS, type E2eCheck, type E2eContext } from './checks.js'
import type { GatewayUnderTest } from './gateway.js'
import type { E2eSettings } from './settings.js'

export interface E2eResult { passed: number, failed: number }

/**
 * Runs every check in order against `gateway` and the OpenIM behind it, printing `ok <id>` or `FAIL <id>: <reason>`
 * for each and the closing `N passed, N failed`. A check whose prerequisite failed fails too, naming it.
 */
export async function runE2e (settings: E2eSettings, gateway: GatewayUnderTest, print: (line: string) => void,
  checks: E2eCheck[] = E2E_CHECKS): Promise<E2eResult> {
  const transport = new OpenImTransport({
    baseUrl: settings.OPENIM_API_URL,
    timeoutMs: settings.E2E_TIMEOUT_MS,
    connections: 4,
    pipelining: 1,
    keepAliveTimeoutMs: 4000,
    maxPendingCalls: 64
  })
  const openim = new OpenImClient({
    transport, secret: settings.OPENIM_SECRET, adminUserID: settings.OPENIM_ADMIN_USER_ID, apiMode: 'auto'
  })
  // Letters and digits only: valid userIDs on every OpenIM release.
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
  const ctx: E2eContext = { settings, gateway, openim, userID: (name) => `${settings.E2E_USER_PREFIX}${runId}_${name}` }
  const failedIds: string[] = []
  let passed = 0
  try {
    // Before the first check: does OpenIM take the secret, and which release is it? A refusal fails `provision`.
    let refused: string | undefined
    try {
      ctx.release = await findRelease(settings)
    } catch (error) {
      refused = describe(error, gateway)
    }
    for (const check of checks) {
      const blocker = refused !== undefined && failedIds.length > 0 ? failedIds[0] : check.needs?.find((id) => failedIds.includes(id))
      let reason: string | undefined
      if (blocker !== undefined) {
        reason = `not run: needs "${blocker}"`
      } else if (refused !== undefined) {
        reason = refused
      } else {
        try {
          await check.run(ctx)
        } catch (error) {
          reason = describe(error, gateway)
        }
      }
      if (reason === undefined) {
        passed += 1
        print(`ok ${check.id}`)
      } else {
        failedIds.push(check.id)
        print(`FAIL ${check.id}: ${reason}`)
      }
    }
  } finally {
    await openim.close()
  }
  print(`${passed} passed, ${failedIds.length} failed`)
  return { passed, failed: failedIds.length }
}

/** The release at OPENIM_API_URL, as the doctor finds it; throws, saying which setting is wrong, when OpenIM refuses us. */
async function findRelease (settings: E2eSettings): Promise<Release> {
  const diagnostics = new OpenImDiagnostics(settings.OPENIM_API_URL, settings.E2E_TIMEOUT_MS)
  let calls = 0
  const poster = { post: (path: string, body: unknown) => diagnostics.post(path, body, { operationID: `gwe2e-detect-${++calls}` }) }
  try {
    const detection = await detectRelease(poster, settings.OPENIM_SECRET, settings.OPENIM_ADMIN_USER_ID)
    if (!detection.found) {
      throw new CheckFailed(detection.problem === 'unknown_routes'
        ? 'OpenIM\'s routes are not at OPENIM_API_URL (npm run doctor says what to set)'
        : 'something other than OpenIM answers at OPENIM_API_URL (npm run doctor says what)')
    }
    const error = detection.adminMint.outcome.ok ? undefined : detection.adminMint.outcome.error
    if (error !== undefined) {
      const refusal = adminRefusal(detection.release, error)
      throw new CheckFailed(refusal === 'secret'
        ? `OpenIM refused the secret (errCode ${error.errCode}): OPENIM_SECRET is not the secret of this OpenIM`
        : refusal === 'other'
          ? `OpenIM refused the admin token (errCode ${error.errCode}): its own logs tell why`
          : `OpenIM refused OPENIM_ADMIN_USER_ID "${settings.OPENIM_ADMIN_USER_ID}" as its admin (errCode ${error.errCode})`)
    }
    return detection.release
  } finally {
    await diagnostics.close()
  }
}

function describe (error: unknown, gateway: GatewayUnderTest): string {
  if (error instanceof CheckFailed) return error.message
  if (error instanceof OpenImError) return `OpenIM at OPENIM_API_URL: ${error.message} (${error.path})`
  const cause = (error as { cause?: { code?: string } }).cause?.code
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'TypeError')) {
    return `the gateway at ${gateway.url} did not answer: ${error.message}${cause === undefined ? '' : ` (${cause})`}`
  }
  return `the check itself failed: ${(error as Error).message}`
}

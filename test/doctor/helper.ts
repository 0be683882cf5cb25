import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import type { Release } from '../../src/openim/detection.js'
import type { EmulatorMode, EmulatorOptions, OpenImEmulator } from '../../src/emulator/emulator.js'
import type { CheckResult, Report, Status } from '../../src/doctor/report.js'
import { runDoctor } from '../../src/doctor/run.js'
import { ADMIN, SERVICE_KEY, startOpenIm } from '../helper.js'
import { AUDIENCE } from '../jwt.js'

interface Teardown { teardown (fn: () => unknown): void }

// Not one of OpenIM's default secrets, so a healthy report has no warning about it.
export const DOCTOR_SECRET = 'doctor-test-secret-4f1c9e'

/** One OpenIM release as the emulator plays it, and what the doctor must find on it. */
export interface GenerationCase {
  mode: EmulatorMode
  release: Release
  /** 'warn' on v3.8.0: the gateway checks its userIDs by the legacy rule. */
  generationStatus: Status
  kicksOnMint: boolean
  logoutKicks: boolean
  dashAccepted: boolean
  userIdRuleStatus: Status
  /** Why the case cannot run yet (it is skipped, saying so). */
}

export const GENERATIONS: GenerationCase[] = [
  { mode: 'current', release: 'v3.8.1+', generationStatus: 'pass', kicksOnMint: true, logoutKicks: true, dashAccepted: false, userIdRuleStatus: 'pass' },
  { mode: 'legacy', release: 'v3.0-v3.7', generationStatus: 'pass', kicksOnMint: false, logoutKicks: false, dashAccepted: true, userIdRuleStatus: 'pass' },
  { mode: 'v3.8.0', release: 'v3.8.0', generationStatus: 'warn', kicksOnMint: false, logoutKicks: true, dashAccepted: false, userIdRuleStatus: 'warn' }
]

export async function startDoctorOpenIm (t: Teardown, options: Partial<EmulatorOptions> = {}): Promise<OpenImEmulator> {
  return startOpenIm(t, { secret: DOCTOR_SECRET, adminUserID: ADMIN, ...options })
}

/** The gateway's settings pointing at `url`, with a caller key so the report can be healthy. */
export function doctorEnv (url: string, env: Record<string, string> = {}): Record<string, string> {
  // The gateway requires an audience with any JWT key source; the tests' tokens carry AUDIENCE.
  const jwtSource = ['JWT_JWKS_URL', 'JWT_PUBLIC_KEY', 'JWT_SECRET'].some((name) => env[name] !== undefined && env[name] !== '')
  const audience: Record<string, string> = jwtSource && env.JWT_ALLOW_ANY_AUDIENCE === undefined ? { JWT_AUDIENCE: AUDIENCE } : {}
  return { OPENIM_API_URL: url, OPENIM_SECRET: DOCTOR_SECRET, GATEWAY_API_KEYS: `tests:${SERVICE_KEY}`, OPENIM_TIMEOUT_MS: '5000', ...audience, ...env }
}

export function doctor (url: string, env: Record<string, string> = {}, write = false): Promise<Report> {
  return runDoctor({ env: doctorEnv(url, env), write })
}

export function check (report: Report, id: string): CheckResult {
  const found = report.checks.find((result) => result.id === id)
  if (found === undefined) throw new Error(`no check ${id} in the report: ${report.checks.map((result) => result.id).join(', ')}`)
  return found
}

/** Every check's status by id, to compare a whole report at once. */
export function statuses (report: Report): Record<string, Status> {
  return Object.fromEntries(report.checks.map((result) => [result.id, result.status]))
}

/** Every token the emulator handed out or was shown (token headers and bodies): none may reach a report. */
export function tokensSeen (emulator: OpenImEmulator): string[] {
  const tokens = new Set<string>()
  for (const call of emulator.recentCalls) {
    if (call.token !== undefined && call.token !== '') tokens.add(call.token)
    try {
      const body = JSON.parse(call.body) as { token?: unknown }
      if (typeof body.token === 'string' && body.token !== '') tokens.add(body.token)
    } catch {}
  }
  return [...tokens]
}

/** A port where nothing listens (one was listening a moment ago). */
export async function closedPort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

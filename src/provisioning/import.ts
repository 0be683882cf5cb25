import { fromOpenImError } from '../errors.js'
import type { ImportUser } from '../http/schemas/index.js'
import type { OpenImClient } from '../openim/client.js'
import { ErrCode, OpenImError, UserIdRuleRefusal } from '../openim/errors.js'
import { MAX_USER_ID_LENGTH, userIdProblem, type RegisterUser } from '../openim/generations.js'
import { CallCancelled, type CallContext } from '../openim/transport.js'
import { Deadline, DeadlineExceeded } from './deadline.js'
import { ImportDeadlineExceeded } from './errors.js'
import { userToRegister } from './registration.js'

/**
 * Codes of users that failed. The first four need the row fixed; the others are worth a retry.
 * CLIENT_CLOSED_REQUEST (not sent: the caller had gone) is never read by anyone, but counted in the metrics.
 */
export const IMPORT_FAILURE_CODES = [
  'INVALID_USER_ID', 'INVALID_PROFILE', 'RESERVED_USER_ID', 'DUPLICATE_IN_BATCH',
  'OPENIM_REJECTED', 'OPENIM_BAD_RESPONSE', 'OPENIM_UNAVAILABLE', 'OPENIM_TIMEOUT', 'OPENIM_AUTH_FAILED', 'DEADLINE_EXCEEDED',
  'CLIENT_CLOSED_REQUEST'
] as const
export type ImportFailureCode = typeof IMPORT_FAILURE_CODES[number]
export type ImportStatus = 'created' | 'existing' | 'failed'

export interface ImportResult { userID: string, status: ImportStatus, code?: ImportFailureCode, message?: string }
export interface ImportOutcome { results: ImportResult[], created: number, existing: number, failed: number }

export interface ImportOptions {
  openim: OpenImClient
  /** The per-user guards' rule for OpenIM's admin and system accounts (src/http/user-guard.ts). */
  isReserved: (userID: string) => boolean
  /**
   * What makes a user fail whatever OpenIM it goes to (a userID no version holds, a value breaking its rule), or
   * undefined: the rules the import CLI also checks before sending (importRowProblem).
   */
  rowProblem: (user: ImportUser) => { code: 'INVALID_USER_ID' | 'INVALID_PROFILE', message: string } | undefined
  deadlineMs: number
  /** Told how many users ended with each outcome (metrics). */
  onOutcome?: (status: ImportStatus, code: string, count: number) => void
}

// OpenIM registers a batch in one insert: a few hundred users keep each call short, keep a proxy's body limit
// (nginx: 1 MiB by default) out of reach, and limit what one failure takes down.
const REGISTER_CHUNK_USERS = 250
const REGISTER_CHUNK_BYTES = 512 * 1024

type Failure = { code: ImportFailureCode, message: string }

/**
 * The flow behind POST /users/import: one account_check for the batch, then user_register for the missing
 * users only (OpenIM fails a whole batch with 1102 if any ID exists), chunk by chunk. Every user gets an
 * answer; OpenIM failing part-way fails the users it concerns, with a code that says a retry is worthwhile.
 */
export class UserImporter {
  constructor (private readonly options: ImportOptions) {}

  async import (users: ImportUser[], context: CallContext): Promise<ImportOutcome> {
    const results: ImportResult[] = new Array(users.length)
    const toCheck = this.screen(users, results)
    if (toCheck.length > 0) await new ImportRun(this.options, context, users, results).run(toCheck)
    return this.summarise(results)
  }

  /** Settles what needs no OpenIM call (repeats, reserved and malformed IDs, bad values); returns the rest. */
  private screen (users: ImportUser[], results: ImportResult[]): Array<{ index: number, user: ImportUser }> {
    const firstSeen = new Map<string, number>()
    const rest: Array<{ index: number, user: ImportUser }> = []
    users.forEach((user, index) => {
      // A value breaking its rule fails its user, however long, and is never repeated: nor is a userID too long to be one.
      const userID = echoable(user.userID) ? user.userID : ''
      const fail = (code: ImportFailureCode, message: string) => { results[index] = { userID, status: 'failed', code, message } }
      const earlier = firstSeen.get(user.userID)
      if (earlier !== undefined) return fail('DUPLICATE_IN_BATCH', `users[${earlier}] has the same userID; only the first is imported`)
      firstSeen.set(user.userID, index)
      if (this.options.isReserved(user.userID)) return fail('RESERVED_USER_ID', 'this userID is reserved for OpenIM\'s own accounts')
      const problem = this.options.rowProblem(user)
      if (problem !== undefined) return fail(problem.code, problem.message)
      rest.push({ index, user })
    })
    return rest
  }

  private summarise (results: ImportResult[]): ImportOutcome {
    const outcome: ImportOutcome = { results, created: 0, existing: 0, failed: 0 }
    const counts = new Map<string, { status: ImportStatus, code: string, count: number }>()
    for (const result of results) {
      outcome[result.status] += 1
      const key = `${result.status}:${result.code ?? ''}`
      const entry = counts.get(key) ?? { status: result.status, code: result.code ?? '', count: 0 }
      entry.count += 1
      counts.set(key, entry)
    }
    for (const { status, code, count } of counts.values()) this.options.onOutcome?.(status, code, count)
    return outcome
  }
}

/** One request's import: its deadline, and the failure that stops the chunks not yet sent. */
class ImportRun {
  private readonly deadline: Deadline
  private stoppedBy?: Failure

  constructor (private readonly options: ImportOptions, private readonly context: CallContext,
    private readonly users: ImportUser[], private readonly results: ImportResult[]) {
    this.deadline = new Deadline(options.deadlineMs, Date.now, context.deadline)
  }

  async run (candidates: Array<{ index: number, user: ImportUser }>): Promise<void> {
    const openim = this.options.openim
    let generation: Awaited<ReturnType<OpenImClient['connectedGeneration']>>
    let statuses: Map<string, boolean>
    try {
      generation = await this.deadline.race(openim.connectedGeneration(this.context))
      statuses = await this.deadline.race(openim.accountCheck(candidates.map(({ user }) => user.userID), this.context))
    } catch (error) {
      // The caller left before anything was sent: every user is "not sent", and the outcome still counted.
      if (error instanceof CallCancelled) return this.fail(candidates, this.failure(error))
      // Nothing has happened yet: any other failure here is the request's error, not the users'.
      return this.asRequestError(error)
    }
    const pending: Array<{ index: number, user: RegisterUser }> = []
    for (const { index, user } of candidates) {
      if (statuses.get(user.userID) === true) {
        this.settle(index, 'existing')
        continue
      }
      const problem = userIdProblem(user.userID, generation)
      if (problem !== undefined) {
        this.results[index] = { userID: user.userID, status: 'failed', code: 'INVALID_USER_ID', message: problem }
        continue
      }
      pending.push({ index, user: userToRegister(user.userID, user) })
    }
    for (const chunk of chunks(pending)) await this.register(chunk)
  }

  /** Registers a chunk; on 1102 (someone registered one of them since account_check) splits it and retries. */
  private async register (chunk: Array<{ index: number, user: RegisterUser }>): Promise<void> {
    if (this.stoppedBy !== undefined) return this.fail(chunk, this.stoppedBy)
    try {
      await this.deadline.race(this.options.openim.registerUsers(chunk.map(({ user }) => user), this.context))
      for (const { index } of chunk) this.settle(index, 'created')
    } catch (error) {
      if (error instanceof OpenImError && error.kind === 'rejected' && error.errCode === ErrCode.RegisteredAlready) {
        if (chunk.length === 1) return this.settle(chunk[0]!.index, 'existing')
        const half = Math.ceil(chunk.length / 2)
        await this.register(chunk.slice(0, half))
        return this.register(chunk.slice(half))
      }
      if (error instanceof OpenImError && error.kind === 'rejected' &&
        (error.errCode === ErrCode.ServerInternal || error.errCode === ErrCode.DuplicateKey)) {
        return this.afterInsertFailure(chunk, error)
      }
      if (error instanceof UserIdRuleRefusal) return this.afterRuleRefusal(chunk)
      return this.fail(chunk, this.failure(error))
    }
  }

  /**
   * v3.8.0 speaks the legacy API but holds new userIDs to v3.8's rule, and refuses the whole chunk for one ID that
   * breaks it. The OpenIM client says so only when an ID it sent breaks that rule: those fail alone, the rest are
   * sent again.
   */
  private async afterRuleRefusal (chunk: Array<{ index: number, user: RegisterUser }>): Promise<void> {
    const rest = chunk.filter(({ index, user }) => {
      const problem = userIdProblem(user.userID, 'current')
      if (problem === undefined) return true
      this.results[index] = { userID: user.userID, status: 'failed', code: 'INVALID_USER_ID', message: problem }
      return false
    })
    if (rest.length > 0) await this.register(rest)
  }

  /**
   * 500 (1003 up to v3.4) is what a concurrent registration hitting Mongo's unique index looks like, and the
   * insert may have stored part of the chunk. account_check tells: those now registered exist; if none do,
   * it was not a race and the chunk failed.
   */
  private async afterInsertFailure (chunk: Array<{ index: number, user: RegisterUser }>, cause: OpenImError): Promise<void> {
    let statuses: Map<string, boolean>
    try {
      statuses = await this.deadline.race(this.options.openim.accountCheck(chunk.map(({ user }) => user.userID), this.context))
    } catch (error) {
      const failure = this.failure(error)
      // Not checked again because the caller had gone: the insert's own failure is what is known of this chunk.
      return this.fail(chunk, error instanceof CallCancelled ? this.failure(cause) : failure)
    }
    const rest = chunk.filter(({ index, user }) => {
      if (statuses.get(user.userID) !== true) return true
      this.settle(index, 'existing')
      return false
    })
    if (rest.length === chunk.length) return this.fail(chunk, this.failure(cause))
    if (rest.length > 0) await this.register(rest)
  }

  private settle (index: number, status: 'created' | 'existing') {
    this.results[index] = { userID: this.users[index]!.userID, status }
  }

  private fail (chunk: Array<{ index: number }>, failure: Failure) {
    for (const { index } of chunk) this.results[index] = { userID: this.users[index]!.userID, status: 'failed', ...failure }
  }

  /** The failure of one call, as a per-user code; OpenIM being unreachable or refusing us stops the rest. */
  private failure (error: unknown): Failure {
    if (error instanceof CallCancelled) {
      // A chunk already sent completes (its users are created); the ones after it are not sent.
      this.stoppedBy = { code: 'CLIENT_CLOSED_REQUEST', message: 'not sent: the caller closed the connection before the import finished' }
      return this.stoppedBy
    }
    if (error instanceof DeadlineExceeded) {
      this.stoppedBy = {
        code: 'DEADLINE_EXCEEDED',
        message: `the import did not finish within IMPORT_DEADLINE_MS (${this.deadline.ms} ms); retry (users that now exist are skipped)`
      }
      return { ...this.stoppedBy, message: `${this.stoppedBy.message}: OpenIM had not answered, so this user may exist already` }
    }
    if (!(error instanceof OpenImError)) throw error
    const gatewayError = fromOpenImError(error)
    const failure: Failure = { code: gatewayError.code as ImportFailureCode, message: gatewayError.message }
    if (error.kind === 'unavailable' || error.kind === 'timeout' || error.kind === 'auth_failed') {
      this.stoppedBy = { code: failure.code, message: `not sent: an earlier call in this import failed (${failure.message})` }
    }
    return failure
  }

  private asRequestError (error: unknown): never {
    if (error instanceof DeadlineExceeded) {
      throw new ImportDeadlineExceeded(this.deadline.ms)
    }
    throw error
  }
}

/** Whether an answer may repeat a userID: not one longer than any OpenIM holds (more than twice as many UTF-16 units are too many). */
const echoable = (userID: string) =>
  userID.length <= MAX_USER_ID_LENGTH || (userID.length <= 2 * MAX_USER_ID_LENGTH && [...userID].length <= MAX_USER_ID_LENGTH)

/** Consecutive chunks of at most REGISTER_CHUNK_USERS users and about REGISTER_CHUNK_BYTES of JSON. */
function * chunks<T extends { user: RegisterUser }> (pending: T[]): Generator<T[]> {
  let chunk: T[] = []
  let bytes = 0
  for (const entry of pending) {
    const { userID, nickname, faceURL, ex } = entry.user
    const size = 64 + userID.length + nickname.length + (faceURL?.length ?? 0) + (ex?.length ?? 0)
    if (chunk.length > 0 && (chunk.length >= REGISTER_CHUNK_USERS || bytes + size > REGISTER_CHUNK_BYTES)) {
      yield chunk
      chunk = []
      bytes = 0
    }
    chunk.push(entry)
    bytes += size
  }
  if (chunk.length > 0) yield chunk
}

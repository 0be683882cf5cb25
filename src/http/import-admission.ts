import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError } from '../errors.js'

/** What a refused import tells the caller to wait: a slot frees as soon as one running import ends. */
export const IMPORT_RETRY_AFTER_SECONDS = 1

interface Ticket { responseClosed: boolean, working: boolean, released: boolean }

/**
 * At most `max` imports per process at once. An import holds its body, the parsed users and its answer in
 * memory (several times IMPORT_BODY_LIMIT_BYTES), so concurrency, not the rate limit, bounds the heap. The
 * decision is made in onRequest, before the body is read; beyond `max` the answer is 503 OVERLOADED with
 * Retry-After. A slot is held until the response has closed and the import's work has ended (a caller that
 * leaves does not free memory its import still holds).
 */
export class ImportAdmission {
  private active = 0
  private readonly tickets = new WeakMap<FastifyRequest, Ticket>()

  constructor (readonly max: number) {}

  readonly admit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.active >= this.max) {
      const message = `${this.max} imports are already running on this replica (IMPORT_MAX_CONCURRENT); retry shortly`
      throw new GatewayError(503, 'OVERLOADED', message, {}, { 'retry-after': String(IMPORT_RETRY_AFTER_SECONDS) })
    }
    this.active += 1
    const ticket: Ticket = { responseClosed: false, working: false, released: false }
    this.tickets.set(request, ticket)
    const closed = () => {
      ticket.responseClosed = true
      this.settle(ticket)
    }
    // 'close' comes once the answer is sent or the connection is gone, whether or not the handler ever ran.
    if (reply.raw.destroyed || reply.raw.writableFinished) closed()
    else reply.raw.once('close', closed)
  }

  /** Runs the import's work under the request's slot, which stays taken until the work ends. */
  async hold<T> (request: FastifyRequest, work: () => Promise<T>): Promise<T> {
    const ticket = this.tickets.get(request)
    if (ticket !== undefined) ticket.working = true
    try {
      return await work()
    } finally {
      if (ticket !== undefined) {
        ticket.working = false
        this.settle(ticket)
      }
    }
  }

  private settle (ticket: Ticket) {
    if (ticket.released || !ticket.responseClosed || ticket.working) return
    ticket.released = true
    this.active -= 1
  }
}

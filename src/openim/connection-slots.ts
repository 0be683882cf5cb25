import type { CallContext } from './transport.js'

/** Why a call never reached OpenIM: no connection came free in time, the queue was full, or nobody waits any more. */
export type SlotRefusal = 'deadline' | 'queue_full' | 'cancelled'

export class SlotRefused extends Error {
  constructor (readonly reason: SlotRefusal, message: string) {
    super(message)
  }
}

interface Waiter { grant (): void, context: CallContext, cleanup (): void }

/**
 * Admission to the OpenIM connection pool. undici queues requests for a busy pool without bound, and its
 * timeouts start only once a request is dispatched, so a flood of calls waited far longer than any
 * timeout said. Here a call takes one of `size` slots (connections × pipelining) before it is handed to
 * undici, waits in a FIFO of at most `maxPending` otherwise, and leaves that queue when its deadline
 * passes or its signal aborts. A dispatched call is never aborted: that would destroy a pooled socket.
 */
export class ConnectionSlots {
  private busy = 0
  // A Set keeps insertion order and deletes in O(1) when a waiter leaves early.
  private readonly waiting = new Set<Waiter>()

  constructor (private readonly size: number, private readonly maxPending: number) {}

  /** Calls waiting for a connection right now (a gauge). */
  get pending (): number { return this.waiting.size }

  /** Resolves once the caller holds a slot, at once (undefined) when one is free; call release() afterwards. */
  acquire (context: CallContext): Promise<void> | undefined {
    const refusal = refusalBeforeDispatch(context)
    if (refusal !== undefined) throw refusal
    if (this.busy < this.size) {
      this.busy += 1
      return undefined
    }
    if (this.waiting.size >= this.maxPending) {
      throw new SlotRefused('queue_full', `${this.waiting.size} calls are already waiting for a connection to OpenIM`)
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (refused: SlotRefused) => {
        this.waiting.delete(waiter)
        waiter.cleanup()
        reject(refused)
      }
      const onAbort = () => leave(cancelled())
      const timer = context.deadline === undefined
        ? undefined
        : setTimeout(() => leave(deadlinePassed()), Math.max(0, context.deadline - Date.now()))
      context.signal?.addEventListener('abort', onAbort, { once: true })
      const waiter: Waiter = {
        context,
        grant: resolve,
        cleanup: () => {
          clearTimeout(timer)
          context.signal?.removeEventListener('abort', onAbort)
        }
      }
      this.waiting.add(waiter)
    })
  }

  /** Hands the slot to the longest-waiting call, or frees it. */
  release (): void {
    const next = this.waiting.values().next()
    if (next.done === true) {
      this.busy -= 1
      return
    }
    this.waiting.delete(next.value)
    next.value.cleanup()
    next.value.grant()
  }
}

function refusalBeforeDispatch (context: CallContext): SlotRefused | undefined {
  if (context.signal?.aborted === true) return cancelled()
  if (context.deadline !== undefined && Date.now() >= context.deadline) return deadlinePassed()
  return undefined
}

const cancelled = () => new SlotRefused('cancelled', 'nobody waits for this call any more')
const deadlinePassed = () => new SlotRefused('deadline', 'the request deadline passed while waiting for a connection to OpenIM')

import type { CallContext } from '../openim/transport.js'
import { waitForCaller, whenSettled, type OnSettled } from './caller-wait.js'

interface Flow<T> {
  result: Promise<T>
  /** Settled either way: what a flow started after an abandoned one waits for. */
  finished: Promise<void>
  waiters: number
  settled: boolean
  abandoned: AbortController
}

/**
 * Concurrent callers asking for the same key share one run of the work, and the run stops between two
 * OpenIM calls once every caller waiting for it has gone (disconnected or past its deadline): its
 * context's signal aborts, so no further call is sent. A call already sent completes and its result is
 * kept. A caller arriving while an abandoned run finishes its last call starts a fresh run after it,
 * so two runs of one key never overlap. Entries live only while a run does: the map is bounded by the
 * requests in flight.
 */
export class SharedFlows<T> {
  private readonly flows = new Map<string, Flow<T>>()

  /** `onJoin` is told whenever a caller joins a flow already running instead of starting one. */
  constructor (private readonly onJoin: () => void = () => {}) {}

  /**
   * Joins the running flow for `key` or starts one with `start`; waits as long as `caller` does.
   * `onSettled` is told how the flow itself ends, even after this caller stopped waiting.
   */
  join (key: string, caller: CallContext, start: (context: CallContext) => Promise<T>, onSettled?: OnSettled<T>): Promise<T> {
    let flow = this.flows.get(key)
    if (flow === undefined || flow.abandoned.signal.aborted) flow = this.start(key, caller, start, flow)
    else this.onJoin()
    const joined = flow
    whenSettled(joined.result, onSettled)
    joined.waiters += 1
    return waitForCaller(joined.result, caller, () => {
      joined.waiters -= 1
      if (joined.waiters === 0 && !joined.settled) joined.abandoned.abort()
    })
  }

  private start (key: string, caller: CallContext, start: (context: CallContext) => Promise<T>, previous?: Flow<T>): Flow<T> {
    const abandoned = new AbortController()
    // The flow belongs to all its callers: it carries the first one's operationID, but not its deadline.
    const context: CallContext = { operationID: caller.operationID, signal: abandoned.signal }
    const result = previous === undefined ? start(context) : previous.finished.then(() => start(context))
    const settle = () => {
      flow.settled = true
      if (this.flows.get(key) === flow) this.flows.delete(key)
    }
    // Handles the rejection too, so a flow nobody waits for any more never fails unhandled.
    const flow: Flow<T> = { result, finished: result.then(settle, settle), waiters: 0, settled: false, abandoned }
    this.flows.set(key, flow)
    return flow
  }
}

import type { CallContext } from '../openim/transport.js'
import { RequestDeadlineExceeded } from './errors.js'

/**
 * Waits for `work` for as long as its caller does: until the work settles, until the caller's deadline
 * (then RequestDeadlineExceeded) or until the caller has gone (then the signal's reason). The work itself runs
 * on; `onLeave` runs once, whichever way the caller stopped waiting.
 */
export function waitForCaller<T> (work: Promise<T>, context: CallContext, onLeave: () => void = () => {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let left = false
    let timer: NodeJS.Timeout | undefined
    const leave = () => {
      if (left) return false
      left = true
      clearTimeout(timer)
      context.signal?.removeEventListener('abort', onAbort)
      onLeave()
      return true
    }
    const onAbort = () => { if (leave()) reject(context.signal?.reason) }
    work.then((value) => { if (leave()) resolve(value) }, (error) => { if (leave()) reject(error) })
    if (context.signal?.aborted === true) {
      onAbort()
      return
    }
    context.signal?.addEventListener('abort', onAbort, { once: true })
    if (context.deadline !== undefined) {
      const expire = () => { if (leave()) reject(new RequestDeadlineExceeded()) }
      timer = setTimeout(expire, Math.max(0, context.deadline - Date.now()))
    }
  })
}

/** How the work behind a request ended. */
export type Settled<T> = { ok: true, value: T } | { ok: false, error: unknown }

/**
 * Told once how the work ended, whether or not its caller still waited for it: a caller that left or
 * reached its deadline does not undo a call already sent. Audit lines are written from it.
 */
export type OnSettled<T> = (settled: Settled<T>) => void

/** Tells `onSettled` how `work` ends (and so handles its rejection). */
export function whenSettled<T> (work: Promise<T>, onSettled: OnSettled<T> | undefined): void {
  if (onSettled === undefined) return
  work.then((value) => onSettled({ ok: true, value }), (error: unknown) => onSettled({ ok: false, error }))
}

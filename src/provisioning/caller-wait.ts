import { GatewayError } from '../errors.js'
import type { CallContext } from '../openim/transport.js'

/**
 * Waits for `work` for as long as its caller does: until the work settles, until the caller's deadline
 * (then 504 OPENIM_TIMEOUT) or until the caller has gone (then the signal's reason). The work itself runs
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
      timer = setTimeout(() => { if (leave()) reject(deadlineExceeded()) }, Math.max(0, context.deadline - Date.now()))
    }
  })
}

const deadlineExceeded = () =>
  new GatewayError(504, 'OPENIM_TIMEOUT', 'OpenIM did not finish this request within its deadline (REQUEST_DEADLINE_MS)')

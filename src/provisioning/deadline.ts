/** Thrown when a flow's deadline passes while it waits on OpenIM. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded'
}

/**
 * The time one request may spend on OpenIM, as one object the flow consults before and during each call,
 * so a request-wide deadline (from a header or a server setting) can later be handed in the same way.
 * An OpenIM call cut short keeps running in the background until OPENIM_TIMEOUT_MS; its result is ignored.
 */
export class Deadline {
  private readonly at: number

  /** `at`: the request's own deadline (CallContext.deadline) when it has one, else `ms` from now. */
  constructor (readonly ms: number, private readonly now: () => number = Date.now, at?: number) {
    this.at = at ?? now() + ms
  }

  async race<T> (work: Promise<T>): Promise<T> {
    const remaining = this.at - this.now()
    if (remaining <= 0) {
      work.catch(() => {})
      throw new DeadlineExceeded(`deadline of ${this.ms} ms passed`)
    }
    let timer: NodeJS.Timeout | undefined
    const expiry = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded(`deadline of ${this.ms} ms passed`)), remaining)
    })
    work.catch(() => {})
    try {
      return await Promise.race([work, expiry])
    } finally {
      clearTimeout(timer)
    }
  }
}

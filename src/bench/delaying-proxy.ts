import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'

// A TCP proxy between the gateway and a redis-server, for the tests (test/redis.ts) and `npm run bench:reliability`:
// it reads every command clients send (to count round trips), and can hold the server's replies back from a given
// command on, as a paused Redis or a congested link would (an ambiguous outcome: sent, executed, answered too late).

export interface DelayingProxy {
  url: string
  /**
   * Holds back what the server sends, from the first command that contains `trigger` on, for `ms`: that reply
   * (and any after it, kept in order) arrives late, as from a paused Redis or a congested link. Resolves when
   * the held replies have been let through.
   */
  holdReplyTo (trigger: string, ms: number): Promise<void>
  /**
   * Holds back what the server sends, from the first command that contains `trigger` on, until `released`
   * settles. Resolves once that command has been seen (its reply is being held).
   */
  holdReplyUntil (trigger: string, released: Promise<unknown>): Promise<void>
  /** The same, holding back the command itself (and any after it) on its way to the server: it runs late. */
  holdCommand (trigger: string, ms: number): Promise<void>
  /** Commands seen from clients: the arguments of each, and the chunk it came in (commands of one chunk were pipelined). */
  readonly commands: Array<{ args: string[], chunk: number }>
  close (): Promise<void>
}

/** Reads RESP commands (arrays of bulk strings) out of a client's stream, however it is cut into chunks. */
class CommandReader {
  private buffer = Buffer.alloc(0)
  read (chunk: Buffer): string[][] {
    this.buffer = Buffer.concat([this.buffer, chunk])
    const commands: string[][] = []
    for (;;) {
      const command = this.next()
      if (command === undefined) return commands
      commands.push(command)
    }
  }

  private next (): string[] | undefined {
    let at = 0
    const line = () => {
      const end = this.buffer.indexOf('\r\n', at)
      if (end < 0) return undefined
      const text = this.buffer.toString('latin1', at, end)
      at = end + 2
      return text
    }
    const header = line()
    if (header === undefined || !header.startsWith('*')) return undefined
    const args: string[] = []
    for (let i = 0; i < Number(header.slice(1)); i++) {
      const length = Number(line()?.slice(1))
      if (!Number.isFinite(length) || this.buffer.length < at + length + 2) return undefined
      args.push(this.buffer.toString('latin1', at, at + length))
      at += length + 2
    }
    this.buffer = this.buffer.subarray(at)
    return args
  }
}

/** Writes to `socket` in order, holding everything back while held (from `hold(ms)` on, for `ms`). */
function valve (socket: Socket) {
  let heldUntil = 0
  const queue: Buffer[] = []
  let flushing: NodeJS.Timeout | undefined
  const flush = () => {
    flushing = undefined
    for (const chunk of queue.splice(0)) socket.write(chunk)
  }
  return {
    hold (ms: number) { heldUntil = Date.now() + ms },
    holdUntil (released: Promise<unknown>) {
      heldUntil = Infinity
      const open = () => {
        heldUntil = 0
        clearTimeout(flushing)
        flush()
      }
      released.then(open, open)
    },
    write (chunk: Buffer) {
      if (Date.now() >= heldUntil && queue.length === 0) {
        socket.write(chunk)
        return
      }
      queue.push(chunk)
      if (heldUntil !== Infinity) flushing ??= setTimeout(flush, Math.max(0, heldUntil - Date.now()))
    },
    stop () { clearTimeout(flushing) }
  }
}

/** A TCP proxy in front of `target` (host:port) that reads the commands clients send and can hold them or their replies back. */
export async function startDelayingProxy (target: { host: string, port: number }): Promise<DelayingProxy> {
  let pending: { trigger: string, ms: number | Promise<unknown>, direction: 'reply' | 'command', done: () => void } | undefined
  const commands: DelayingProxy['commands'] = []
  let chunks = 0
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    sockets.add(client).add(upstream)
    const [toServer, toClient] = [valve(upstream), valve(client)]
    const reader = new CommandReader()
    client.on('data', (chunk: Buffer) => {
      const chunkNumber = ++chunks
      for (const args of reader.read(chunk)) commands.push({ args, chunk: chunkNumber })
      if (pending !== undefined && chunk.toString('latin1').includes(pending.trigger)) {
        const { ms, direction, done } = pending
        pending = undefined
        const side = direction === 'reply' ? toClient : toServer
        if (typeof ms === 'number') {
          side.hold(ms)
          setTimeout(done, ms + 50)
        } else {
          side.holdUntil(ms)
          done()
        }
      }
      toServer.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => toClient.write(chunk))
    const close = () => {
      toServer.stop()
      toClient.stop()
      client.destroy()
      upstream.destroy()
    }
    client.on('close', close).on('error', close)
    upstream.on('close', close).on('error', close)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      server.close()
    },
    commands,
    holdReplyTo: (trigger, ms) => new Promise((resolve) => { pending = { trigger, ms, direction: 'reply', done: resolve } }),
    holdReplyUntil: (trigger, released) =>
      new Promise((resolve) => { pending = { trigger, ms: released, direction: 'reply', done: resolve } }),
    holdCommand: (trigger, ms) => new Promise((resolve) => { pending = { trigger, ms, direction: 'command', done: resolve } })
  }
}

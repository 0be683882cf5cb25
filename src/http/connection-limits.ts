import type { Server } from 'node:http'
import type { Socket } from 'node:net'

export type ConnectionLimit = 'total' | 'per_address'

export interface ConnectionLimits {
  /** Connections open at once in all; Node closes further ones before they are accepted. */
  total: number
  /** Connections open at once from one client address; further ones are closed on arrival. */
  perAddress: number
  /** Told about every connection closed on arrival, and by which limit (a metric: never a log line per refusal). */
  onRefused?: (limit: ConnectionLimit) => void
}

/**
 * Caps a listener's connections in all and per client address. The total alone bounds memory, but one client
 * could hold all of it (idle keep-alive sockets, headers dripped in) and lock everyone else out, liveness
 * probes included; with a cap per address it holds at most its share. Addresses are the TCP peer's, not
 * X-Forwarded-For: behind a proxy every connection is the proxy's, so the cap must fit the proxy's pool.
 * The count lives only as long as the connections: memory stays bounded by `total`.
 */
export function limitConnections (server: Server, { total, perAddress, onRefused }: ConnectionLimits) {
  server.maxConnections = total
  server.on('drop', () => onRefused?.('total'))
  const open = new Map<string, number>()
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress
    // A socket already closed has no address, and nothing left to count.
    if (address === undefined) return
    const count = open.get(address) ?? 0
    if (count >= perAddress) {
      onRefused?.('per_address')
      socket.destroy()
      return
    }
    open.set(address, count + 1)
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1
      if (left === 0) open.delete(address)
      else open.set(address, left)
    })
  })
}

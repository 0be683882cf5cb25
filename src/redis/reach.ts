import { connect as tcpConnect } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import type { RedisConnectionSettings } from '../config/index.js'
import type { RedisAddress } from '../config/redis.js'
import { Redis } from 'ioredis'
import { nodeOptions, tlsOptions } from './connection.js'
import { connectionProblem, unusableRedis, type RedisDiagnosisContext, type RedisProblem } from './replies.js'

// ioredis reports a sentinel or a Cluster node it could not connect to as "Connection is closed." only: the
// socket's own error (nothing listening, a name that does not resolve, no answer, TLS) is swallowed where it
// connects. To name the real cause, one plain connection is opened to each configured address, as ioredis
// opens it, and closed at once.

/** The error connecting to `address` meets, or undefined when it connects (then the cause is elsewhere). */
export async function socketError (address: RedisAddress, tls: ConnectionOptions | undefined,
  timeoutMs: number): Promise<Error | undefined> {
  return await new Promise((resolve) => {
    const options = { host: address.host, port: address.port }
    const socket = tls === undefined
      ? tcpConnect(options, () => done(undefined))
      : tlsConnect({ ...options, ...tls }, () => done(undefined))
    const timer = setTimeout(() => done(Object.assign(new Error(`connect ETIMEDOUT ${address.host}:${address.port}`),
      { code: 'ETIMEDOUT' })), timeoutMs)
    socket.once('error', (error) => done(error))
    function done (error: Error | undefined) {
      clearTimeout(timer)
      socket.destroy()
      resolve(error)
    }
  })
}

/**
 * Why connecting failed, by its real cause: connectionProblem's reading of ioredis's error, and, where that says
 * no more than "closed" for the sentinels or a Cluster, what a plain connection to their addresses meets.
 */
export async function diagnoseConnection (error: unknown, settings: RedisConnectionSettings,
  context: RedisDiagnosisContext): Promise<RedisProblem> {
  const problem = connectionProblem(error, context)
  const { topology } = settings
  if (problem.cause !== 'closed' || topology.kind === 'standalone') return problem
  const addresses = topology.kind === 'sentinel' ? topology.sentinels : topology.nodes
  const timeoutMs = Math.max(1000, context.commandTimeoutMs)
  const errors = await Promise.all(addresses.map((address) => socketError(address, tlsOptions(settings), timeoutMs)))
  const found = errors.findIndex((socket) => socket !== undefined)
  if (found < 0) return topology.kind === 'cluster' ? await clusterReadyRefusal(settings, topology.nodes[0]!, context) ?? problem : problem
  const deeper = connectionProblem(errors[found], context)
  if (deeper.cause === 'closed') return problem
  const { host, port } = addresses[found]!
  return { ...deeper, reason: `${problem.reason} (${host.includes(':') ? `[${host}]` : host}:${port}: ${deeper.reason})` }
}

/**
 * A Cluster whose nodes take connections but that never gets ready: ioredis's ready check (CLUSTER INFO) failed,
 * which it tells nobody. The same question, asked of one node, gets the reply (an ACL without +cluster|info).
 */
async function clusterReadyRefusal (settings: RedisConnectionSettings, address: RedisAddress,
  context: RedisDiagnosisContext): Promise<RedisProblem | undefined> {
  const node = new Redis({ ...nodeOptions(settings), host: address.host, port: address.port, lazyConnect: true, retryStrategy: () => null })
  node.on('error', () => {})
  try {
    await node.connect()
    await node.cluster('INFO')
    return undefined
  } catch (error) {
    const problem = unusableRedis(error, context)
    return problem === undefined ? undefined : { ...problem, reason: `the cluster's ready check (CLUSTER INFO): ${problem.reason}` }
  } finally {
    node.disconnect()
  }
}

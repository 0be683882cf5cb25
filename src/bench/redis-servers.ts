import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'

// Real redis-server processes on free loopback ports, in the three topologies the gateway speaks: a standalone
// server, a Sentinel set (a primary, a replica, three sentinels) and a Cluster (three primaries, three
// replicas). The test helpers (test/redis.ts) and `npm run bench:reliability` start them; nothing is persisted.

const HOST = '127.0.0.1'

export async function freeLoopbackPort (): Promise<number> {
  const server = createServer().listen(0, HOST)
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `condition` every 50 ms until it holds; throws, naming `what`, after `ms`. */
export async function until (condition: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if (await condition()) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await pause(50)
  }
}

/** One redis-server (or sentinel) process; `stop` kills it (SIGKILL, as a crash), `start` runs it again on its port. */
export interface RedisNode {
  host: string
  port: number
  /** host:port */
  address: string
  start (): Promise<void>
  stop (): Promise<void>
  /** A connection for the test's own commands (CLIENT PAUSE, INFO, KEYS), closed by `close`. */
  admin (): Redis
  readonly running: boolean
}

export interface Servers {
  /** Stops every process and removes the data directory. */
  close (): Promise<void>
}

class Processes {
  readonly dir = mkdtempSync(join(tmpdir(), 'openim-gateway-redis-'))
  private readonly admins: Redis[] = []
  private readonly nodes: Array<{ stop (): Promise<void> }> = []

  async node (args: string[], { sentinel = false, port: fixedPort }: { sentinel?: boolean, port?: number } = {}): Promise<RedisNode> {
    const port = fixedPort ?? await freeLoopbackPort()
    let child: ChildProcess | undefined
    const running = () => child !== undefined && child.exitCode === null && child.signalCode === null
    const config = join(this.dir, `${port}.conf`)
    const node: RedisNode = {
      host: HOST,
      port,
      address: `${HOST}:${port}`,
      get running () { return running() },
      start: async () => {
        // Sentinels need a writable configuration file of their own; the data nodes take their settings as arguments.
        if (sentinel) writeFileSync(config, `port ${port}\nbind ${HOST}\ndir ${this.dir}\n${args.join('\n')}\n`)
        const argv = sentinel
          ? [config, '--sentinel']
          : ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', this.dir, ...args]
        child = spawn('redis-server', argv, { stdio: ['ignore', 'pipe', 'inherit'] })
        let output = ''
        child.stdout?.on('data', (chunk) => { output += chunk })
        const ready = sentinel ? /Sentinel ID is/ : /Ready to accept connections/
        await until(() => ready.test(output) || !running(), `redis-server on port ${port}`, 15_000)
        if (!running()) throw new Error(`redis-server on port ${port} did not start: ${output}`)
      },
      stop: async () => {
        if (!running()) return
        const exited = once(child!, 'exit')
        child!.kill('SIGKILL')
        await exited
      },
      admin: () => {
        const admin = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 })
        admin.on('error', () => {})
        this.admins.push(admin)
        return admin
      }
    }
    await node.start()
    this.nodes.push(node)
    return node
  }

  async close () {
    for (const admin of this.admins) admin.disconnect()
    await Promise.all(this.nodes.map((node) => node.stop()))
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export interface StandaloneServer extends Servers { node: RedisNode, url: string }

/** PEM files for a server that speaks TLS only; `authClients`: it asks for a client certificate too. */
export interface ServerTls { cert: string, key: string, ca: string, authClients?: boolean }

/** One redis-server; `args` are more of its settings (`['--maxmemory', '2mb']`); with `tls`, TLS only (rediss://). */
export async function startStandalone (args: string[] = [], tls?: ServerTls): Promise<StandaloneServer> {
  const processes = new Processes()
  try {
    const port = await freeLoopbackPort()
    const tlsArgs = tls === undefined
      ? []
      : ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca,
          '--tls-auth-clients', tls.authClients === true ? 'yes' : 'no']
    const node = await processes.node([...tlsArgs, ...args], { port })
    return { node, url: `${tls === undefined ? 'redis' : 'rediss'}://${node.address}`, close: () => processes.close() }
  } catch (error) {
    await processes.close()
    throw error
  }
}

export interface SentinelSet extends Servers {
  masterName: string
  primary: RedisNode
  replica: RedisNode
  sentinels: RedisNode[]
  /** REDIS_SENTINELS and REDIS_SENTINEL_MASTER for a gateway. */
  env: Record<string, string>
  /** The primary's port as the sentinels report it now (it changes with a failover). */
  primaryPort (): Promise<number>
  /** The same, as each sentinel reports it: each switches on its own during a failover, the leader first. */
  primaryPorts (): Promise<number[]>
}

/**
 * A primary, a replica and three sentinels (quorum 2) watching them, with `downAfterMs` before a primary counts
 * as down; returns once every sentinel knows the replica and the other sentinels, so a failover can happen.
 */
export async function startSentinelSet ({ downAfterMs = 1000, masterName = 'gateway' } = {}): Promise<SentinelSet> {
  const processes = new Processes()
  try {
    const primary = await processes.node([])
    const replica = await processes.node(['--replicaof', HOST, String(primary.port)])
    const sentinelConfig = [
      `sentinel monitor ${masterName} ${HOST} ${primary.port} 2`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${Math.max(3000, downAfterMs * 3)}`,
      `sentinel parallel-syncs ${masterName} 1`
    ]
    const sentinels = await Promise.all([0, 1, 2].map(() => processes.node(sentinelConfig, { sentinel: true })))
    const replicaAdmin = replica.admin()
    await until(async () => /master_link_status:up/.test(await replicaAdmin.info('replication')), 'the replica to sync')
    for (const sentinel of sentinels) {
      const admin = sentinel.admin()
      await until(async () => {
        const [master] = await admin.call('SENTINEL', 'MASTERS') as string[][]
        const fields = Object.fromEntries(pairs(master ?? []))
        return fields['num-slaves'] === '1' && fields['num-other-sentinels'] === '2'
      }, 'the sentinels to know the replica and each other')
    }
    const askSentinels = sentinels.map((sentinel) => sentinel.admin())
    const primaryPortOf = async (admin: Redis) =>
      Number((await admin.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName) as string[])[1])
    return {
      masterName,
      primary,
      replica,
      sentinels,
      env: { REDIS_SENTINELS: sentinels.map((sentinel) => sentinel.address).join(','), REDIS_SENTINEL_MASTER: masterName },
      primaryPort: async () => await primaryPortOf(askSentinels[0]!),
      primaryPorts: async () => await Promise.all(askSentinels.map(primaryPortOf)),
      close: () => processes.close()
    }
  } catch (error) {
    await processes.close()
    throw error
  }
}

function pairs (flat: string[]): Array<[string, string]> {
  const result: Array<[string, string]> = []
  for (let i = 0; i + 1 < flat.length; i += 2) result.push([flat[i]!, flat[i + 1]!])
  return result
}

export interface RedisClusterServers extends Servers {
  nodes: RedisNode[]
  /** REDIS_CLUSTER_NODES for a gateway (every node). */
  env: Record<string, string>
  /** The nodes serving slots now (three; a replica that took over counts). */
  primaries (): Promise<RedisNode[]>
  /** The node that serves `key`'s slot now. */
  primaryFor (key: string): Promise<RedisNode>
  /** Resolves once every slot is served and (unless `replicas` is false: after a kill) every primary has a replica in sync. */
  healthy (options?: { replicas?: boolean }): Promise<void>
}

/**
 * Three primaries and three replicas (`redis-cli --cluster create … --cluster-replicas 1`), each with its cluster
 * bus on a port chosen here (`--cluster-port`), `nodeTimeoutMs` before a node counts as failed.
 */
export async function startRedisCluster ({ nodeTimeoutMs = 2000 } = {}): Promise<RedisClusterServers> {
  const processes = new Processes()
  try {
    const nodes: RedisNode[] = []
    for (let i = 0; i < 6; i++) {
      const port = await freeLoopbackPort()
      const busPort = await freeLoopbackPort()
      nodes.push(await processes.node([
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(nodeTimeoutMs),
        '--cluster-port', String(busPort), '--cluster-replica-validity-factor', '0'
      ], { port }))
    }
    const create = spawn('redis-cli',
      ['--cluster', 'create', ...nodes.map((node) => node.address), '--cluster-replicas', '1', '--cluster-yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    create.stdout.on('data', (chunk) => { output += chunk })
    create.stderr.on('data', (chunk) => { output += chunk })
    const [code] = await once(create, 'exit') as [number | null]
    if (code !== 0) throw new Error(`redis-cli --cluster create failed: ${output}`)
    const admins = new Map(nodes.map((node) => [node, node.admin()]))
    const role = async (node: RedisNode) => node.running ? /role:(\w+)/.exec(await admins.get(node)!.info('replication'))?.[1] : undefined
    const primaries = async () => {
      const found: RedisNode[] = []
      for (const node of nodes) if (await role(node).catch(() => undefined) === 'master') found.push(node)
      return found
    }
    const healthy = async ({ replicas = true } = {}) => {
      await until(async () => {
        for (const node of nodes) {
          if (!node.running) continue
          if (!/cluster_state:ok/.test(await admins.get(node)!.call('CLUSTER', 'INFO') as string)) return false
          const replication = await admins.get(node)!.info('replication')
          if (/role:slave/.test(replication) && !/master_link_status:up/.test(replication)) return false
          if (replicas && /role:master/.test(replication) && /connected_slaves:0/.test(replication)) return false
        }
        return true
      }, 'the cluster to serve every slot with a replica behind each primary', 60_000)
    }
    await healthy()
    const any = async () => nodes.find((node) => node.running)!
    return {
      nodes,
      env: { REDIS_CLUSTER_NODES: nodes.map((node) => node.address).join(',') },
      primaries,
      primaryFor: async (key) => {
        const slot = await admins.get(await any())!.call('CLUSTER', 'KEYSLOT', key) as number
        for (const node of await primaries()) {
          const shards = await admins.get(node)!.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number]]>
          const owner = shards.find(([from, to]) => slot >= from && slot <= to)
          if (owner !== undefined) return nodes.find((candidate) => candidate.port === Number(owner[2][1]))!
        }
        throw new Error(`no primary serves slot ${slot}`)
      },
      healthy,
      close: () => processes.close()
    }
  } catch (error) {
    await processes.close()
    throw error
  }
}

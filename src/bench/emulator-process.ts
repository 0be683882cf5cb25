import { startEmulator, type Fault } from '../emulator/emulator.js'

// The OpenIM emulator in its own process for the benchmarks, so it does not share an event loop with the
// load generator. The driver reads its counters and injects faults over IPC.
const emulator = await startEmulator({
  mode: 'current',
  secret: process.env.OPENIM_SECRET ?? '',
  latencyMs: Number(process.env.OPENIM_EMULATOR_LATENCY_MS ?? 2)
})

// Mints per user (the admin's excepted), for the reliability bench's "each user minted at most once".
const mintsByUser = new Map<string, number>()
const mint = emulator.tokens.mint.bind(emulator.tokens)
emulator.tokens.mint = async (userID, platformID) => {
  if (userID !== 'imAdmin') mintsByUser.set(userID, (mintsByUser.get(userID) ?? 0) + 1)
  return await mint(userID, platformID)
}

type Message =
  | { id: number, type: 'calls', path?: string }
  | { id: number, type: 'mints' }
  | { id: number, type: 'users' }
  | { id: number, type: 'fault', path: string, fault: Fault, times: number | null }
  | { id: number, type: 'latency', ms: number }
  | { id: number, type: 'close' }

process.on('message', (message: Message) => {
  switch (message.type) {
    case 'calls': return process.send?.({ id: message.id, calls: emulator.callCount(message.path) })
    case 'users': return process.send?.({ id: message.id, users: emulator.users.size })
    case 'mints': return process.send?.({ id: message.id, mints: Object.fromEntries(mintsByUser) })
    case 'fault':
      emulator.injectFault(message.path, message.fault, message.times ?? Infinity)
      return process.send?.({ id: message.id })
    case 'latency':
      emulator.latencyMs = message.ms
      return process.send?.({ id: message.id })
    case 'close': void emulator.close().then(() => process.exit(0))
  }
})
process.send?.({ ready: true, url: emulator.url })

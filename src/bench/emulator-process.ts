import { startEmulator, type Fault } from '../emulator/emulator.js'

// The OpenIM emulator in its own process for the benchmarks, so it does not share an event loop with the
// load generator. The driver reads its counters and injects faults over IPC.
const emulator = await startEmulator({
  mode: 'current',
  secret: process.env.OPENIM_SECRET ?? '',
  latencyMs: Number(process.env.OPENIM_EMULATOR_LATENCY_MS ?? 2)
})

type Message =
  | { id: number, type: 'calls', path?: string }
  | { id: number, type: 'users' }
  | { id: number, type: 'fault', path: string, fault: Fault, times: number | null }
  | { id: number, type: 'latency', ms: number }
  | { id: number, type: 'close' }

process.on('message', (message: Message) => {
  switch (message.type) {
    case 'calls': return process.send?.({ id: message.id, calls: emulator.callCount(message.path) })
    case 'users': return process.send?.({ id: message.id, users: emulator.users.size })
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

import { startEmulator } from '../emulator/emulator.js'

// The OpenIM emulator in its own process for `npm run bench`, so it does not share an event loop with the
// load generator. The driver reads its call counter over IPC.
const emulator = await startEmulator({
  mode: 'current',
  secret: process.env.OPENIM_SECRET ?? '',
  latencyMs: Number(process.env.OPENIM_EMULATOR_LATENCY_MS ?? 2)
})
process.on('message', (message: { id: number, type: 'calls' | 'close' }) => {
  if (message.type === 'calls') process.send?.({ id: message.id, calls: emulator.callCount() })
  else void emulator.close().then(() => process.exit(0))
})
process.send?.({ ready: true, url: emulator.url })

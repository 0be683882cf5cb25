import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { ConfigError, loadConfig } from '../config/index.js'
import { startEmulator } from '../emulator/emulator.js'
import { EMULATOR_MODES } from '../emulator/modes.js'
import { buildApp } from '../http/app.js'
import { readClientScript } from '../http/routes/client-script.js'
import { demoBanner } from './banner.js'
import { DEMO_KEY_NAME, acceptsDemoTokens, demoEnvironment, randomApiKey } from './config.js'
import { demoJwt, signDemoToken } from './jwt.js'

// `npm run demo`: the OpenIM emulator and the gateway wired to it, in one process, for a first try.
const DEMO_USER = 'alice_42'
const mode = EMULATOR_MODES.find((candidate) => candidate === process.env.OPENIM_EMULATOR_MODE) ?? 'current'
const openimSecret = randomBytes(16).toString('hex')
const apiKey = randomApiKey()
let app: FastifyInstance | undefined

async function start () {
  const jwt = await demoJwt()
  const emulator = await startEmulator({ mode, secret: openimSecret })
  try {
    const config = loadConfig(demoEnvironment(process.env, { emulatorUrl: emulator.url, openimSecret, apiKey, jwt }))
    app = await buildApp({ config })
    app.addHook('onClose', async () => { await emulator.close() })
    const address = await listen(app, config.host, config.port)
    const usesDemoKey = config.auth.apiKeys.some((entry) => entry.name === DEMO_KEY_NAME && entry.key === apiKey)
    console.log(demoBanner({
      address,
      config,
      emulator: { url: emulator.url, mode, secret: openimSecret },
      apiKey: usesDemoKey ? apiKey : undefined,
      bearer: acceptsDemoTokens(config, jwt) ? await signDemoToken(jwt, DEMO_USER) : undefined,
      user: DEMO_USER,
      script: readClientScript()
    }))
  } catch (error) {
    await emulator.close()
    throw error
  }
}

/** Listens, turning a busy port into one line that says what to do. */
async function listen (app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
    await app.close()
    throw new ConfigError(`port ${port} on ${host} is in use (another demo or gateway?): start this one elsewhere with ` +
      `PORT=${port + 1} npm run demo`)
  }
}

try {
  await start()
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void app?.close().then(() => process.exit(0)) })
}

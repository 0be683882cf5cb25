import { ConfigError } from './config/index.js'
import { gatewayUnderTest, type GatewayUnderTest } from './e2e/gateway.js'
import { runE2e } from './e2e/run.js'
import { E2eRefusal, loadE2eSettings, type E2eSettings } from './e2e/settings.js'

// `npm run e2e` / `node dist/e2e.js`: the gateway's guarantees checked against a live OpenIM, in order. Exit code 0
// when every check passed, 1 when one failed, 2 when it refused to run (writes not allowed, a bad setting).
let settings: E2eSettings
let gateway: GatewayUnderTest
try {
  settings = loadE2eSettings(process.env)
  gateway = await gatewayUnderTest(settings, process.env)
} catch (error) {
  if (!(error instanceof E2eRefusal) && !(error instanceof ConfigError)) throw error
  process.stderr.write(`${error.message}\n`)
  process.exit(2)
}
try {
  const { failed } = await runE2e(settings, gateway, (line) => process.stdout.write(`${line}\n`))
  process.exitCode = failed === 0 ? 0 : 1
} finally {
  await gateway.close()
}

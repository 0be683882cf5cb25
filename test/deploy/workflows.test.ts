import { existsSync, readFileSync, readdirSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'

// No Docker engine runs here, so the GitHub Actions workflows are checked as text: every one parses, and e2e.yml
// starts OpenIM from this repository's compose files and runs this repository's `npm run e2e` against it.
const root = new URL('../../', import.meta.url).pathname
const dir = `${root}.github/workflows/`
const workflows = Object.fromEntries(readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).map((name) => [name, parse(readFileSync(dir + name, 'utf8'))]))
const e2e = workflows['e2e.yml']
const packageJson = JSON.parse(readFileSync(`${root}package.json`, 'utf8'))

interface Step { name?: string, run?: string, uses?: string, env?: Record<string, string> }
interface Job { env?: Record<string, string>, steps: Step[] }
const jobs = Object.entries(e2e.jobs as Record<string, Job>)

/** The compose file a job runs: its E2E_COMPOSE_FILE, which every docker compose command must name. */
const composeOf = (job: Job) => job.env?.E2E_COMPOSE_FILE ?? ''
const composeServices = (file: string) => parse(readFileSync(root + file, 'utf8')).services as Record<string, any>

/** The host port a compose service publishes for `containerPort`, with the default its variable falls back to. */
function publishedPort (services: Record<string, any>, service: string, containerPort: number): string | undefined {
  for (const mapping of services[service].ports as string[]) {
    const match = /(?:\$\{[A-Z_]+:-(\d+)\}|(\d+)):(\d+)$/.exec(mapping)
    if (match !== null && Number(match[3]) === containerPort) return match[1] ?? match[2]
  }
  return undefined
}

t.test('every workflow parses and has jobs', async (t) => {
  t.ok('e2e.yml' in workflows)
  for (const [name, workflow] of Object.entries(workflows)) t.ok(Object.keys(workflow.jobs ?? {}).length > 0, name)
})

t.test('e2e.yml: one job on docker-compose.yml (v3.8.3), one on the v3.7 line\'s own compose file', async (t) => {
  t.same(jobs.map(([, job]) => composeOf(job)).sort(), ['deploy/compose/openim-v3.7.yml', 'docker-compose.yml'])
  const images = jobs.map(([, job]) => composeServices(composeOf(job))['openim-server'].image as string)
  t.match(images.sort(), [/^openim\/openim-server:v3\.7\.\d+$/, /^openim\/openim-server:v3\.8\.3-patch\.\d+$/])
  t.same(Object.keys(e2e.permissions), ['contents'], 'read-only token')
})

for (const [id, job] of jobs) {
  t.test(`e2e.yml ${id}: starts its compose file, runs npm run e2e against it, and stops it`, async (t) => {
    const file = composeOf(job)
    t.ok(existsSync(root + file), `${file} is in the repository`)
    const runs = job.steps.map((step) => step.run ?? '').filter((run) => run !== '')
    const composeCommands = runs.flatMap((run) => run.split('\n')).filter((line) => line.includes('docker compose'))
    t.ok(composeCommands.length >= 3, 'up, logs, down')
    for (const line of composeCommands) t.match(line, /docker compose -f "\$E2E_COMPOSE_FILE" /, line)
    t.ok(composeCommands.some((line) => / up -d --build openim-gateway$/.test(line)), 'builds the gateway from this checkout')
    const down = job.steps.find((step) => step.run?.includes(' down '))
    t.match(down, { if: 'always()', run: /down --volumes$/ }, 'always removes the stack and its volumes')

    const e2eStep = job.steps.find((step) => step.run === 'npm run e2e')
    t.ok(e2eStep, 'runs the repository\'s script')
    t.equal(packageJson.scripts.e2e, 'node scripts/ensure-built.mjs && node dist/e2e.js')
    t.ok(existsSync(`${root}src/e2e.ts`))
    const services = composeServices(file)
    t.match(e2eStep!.env, {
      E2E_ALLOW_WRITES: '1',
      OPENIM_API_URL: `http://127.0.0.1:${publishedPort(services, 'openim-server', 10002)}`,
      GATEWAY_URL: `http://127.0.0.1:${publishedPort(services, 'openim-gateway', 3000)}`
    }, 'the ports the compose file publishes')
    t.ok(runs.some((run) => run.includes('curl -fsS http://127.0.0.1:3000/readyz')), 'waits for the gateway to be ready')

    // Every credential the compose file requires (${VAR:?}) is generated for the run, and GATEWAY_API_KEY is one of the keys.
    const secretsStep = job.steps.find((step) => step.name === 'Secrets for this run only')!.run!
    const required = new Set([...readFileSync(root + file, 'utf8').matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((match) => match[1]!))
    for (const name of required) t.match(secretsStep, new RegExp(`echo "${name}=(e2e:)?\\$`), `${name} is set`)
    t.match(secretsStep, /echo "GATEWAY_API_KEYS=e2e:\$key"/)
    t.match(secretsStep, /echo "GATEWAY_API_KEY=\$key"/)
    t.match(secretsStep, /::add-mask::\$secret/)
  })
}

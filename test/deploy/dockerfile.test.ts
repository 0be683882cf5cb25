import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Script } from 'node:vm'
import { DockerfileParser } from 'dockerfile-ast'
import t from 'tap'

// No Docker engine exists where the tests run: the image is checked statically.
const root = new URL('../../', import.meta.url).pathname
const text = readFileSync(`${root}Dockerfile`, 'utf8')
const dockerfile = DockerfileParser.parse(text)
const stages = dockerfile.getFROMs()
const finalStage = stages.at(-1)!
const finalLine = finalStage.getRange().start.line
const instructions = dockerfile.getInstructions()
const inFinalStage = (keyword: string) => instructions.filter((instruction) => instruction.getKeyword() === keyword && instruction.getRange().start.line >= finalLine)
const argumentsOf = (instruction: { getArgumentsContent (): string | null }) => instruction.getArgumentsContent() ?? ''
/** An instruction as written, flags included (getArgumentsContent leaves out COPY's --from). */
const lines = text.split('\n')
const sourceOf = (instruction: { getRange (): { start: { line: number }, end: { line: number } } }) => {
  const { start, end } = instruction.getRange()
  return lines.slice(start.line, end.line + 1).join('\n')
}

t.test('dockerfile-utils lint finds nothing', async (t) => {
  const lint = spawnSync(process.execPath, [`${root}node_modules/dockerfile-utils/bin/dockerfile-utils`, 'lint', `${root}Dockerfile`], { encoding: 'utf8' })
  t.equal(lint.status, 0, lint.stdout + lint.stderr)
  t.equal(lint.stdout.trim(), '')
})

t.test('multi-stage: dependencies and build apart, a current Node LTS slim base everywhere', async (t) => {
  t.same(stages.map((stage) => stage.getBuildStage()), ['deps', 'build', 'runtime'])
  for (const stage of stages) t.match(stage.getImageName() + ':' + stage.getImageTag(), /^node:(22|24)-[a-z]+-slim$/)
  const installs = instructions.filter((instruction) => instruction.getKeyword() === 'RUN').map(argumentsOf)
  t.ok(installs.some((command) => /npm ci --omit=dev/.test(command)), 'production dependencies only for the runtime')
  t.ok(installs.some((command) => /npm run build/.test(command)))
  const copies = inFinalStage('COPY').map(sourceOf)
  t.ok(copies.some((copy) => /--from=deps \/app\/node_modules/.test(copy)), 'runtime node_modules come from the deps stage')
  t.ok(copies.some((copy) => /--from=build \/app\/dist/.test(copy)))
  t.notOk(copies.some((copy) => /\bsrc\b|--from=build \/app\/node_modules/.test(copy)), 'no sources or dev dependencies in the runtime')
})

t.test('the runtime runs unprivileged, in production mode, on port 3000, as PID 1 in exec form', async (t) => {
  t.same(inFinalStage('USER').map(argumentsOf), ['node'])
  t.match(inFinalStage('ENV').map(argumentsOf).join(' '), /NODE_ENV=production/)
  t.same(inFinalStage('EXPOSE').map(argumentsOf), ['3000'])
  const cmd = inFinalStage('CMD').map(argumentsOf)
  t.same(cmd, ['["node", "dist/server.js"]'], 'exec form, so SIGTERM reaches node')
  t.same(inFinalStage('STOPSIGNAL').map(argumentsOf), ['SIGTERM'])
})

t.test('the image runs node with `npm start`\'s flags: the heap cap, heap snapshots on SIGUSR2 into /tmp', async (t) => {
  const start = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts.start as string
  const flags = start.split(/\s+/).filter((word) => word.startsWith('--'))
  t.match(start, /--max-old-space-size=\d+/, 'npm start caps the heap')
  t.ok(flags.includes('--heapsnapshot-signal=SIGUSR2'), 'npm start writes a heap snapshot on SIGUSR2')
  t.ok(flags.includes('--diagnostic-dir=/tmp'), 'into /tmp')
  const nodeOptions = /NODE_OPTIONS="([^"]*)"/.exec(inFinalStage('ENV').map(argumentsOf).join(' '))?.[1]
  t.same(nodeOptions?.split(' '), flags)
})

t.test('the healthcheck needs no curl: Node\'s fetch against /healthz', async (t) => {
  const [healthcheck] = inFinalStage('HEALTHCHECK').map(argumentsOf)
  t.ok(healthcheck)
  t.match(healthcheck, /CMD \["node", "-e", ".*fetch\(.*\/healthz/)
  t.notMatch(healthcheck, /curl|wget/)
  // The command itself must be valid JavaScript.
  const script = JSON.parse(/CMD (\[.*\])/s.exec(healthcheck!.replace(/\\\n/g, ''))![1]!)[2] as string
  t.doesNotThrow(() => new Script(script))
})

t.test('.dockerignore keeps node_modules, .git, tests, local env files and the demo secret out of the build context', async (t) => {
  const ignored = readFileSync(`${root}.dockerignore`, 'utf8').split('\n').map((line) => line.trim())
  for (const entry of ['node_modules', '.git', 'test', '.env', '.env.*', 'dist', '.demo']) t.ok(ignored.includes(entry), entry)
  for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) t.notOk(ignored.includes(needed), `${needed} stays in`)
})

// Builds dist/ when it is missing or older than a source file, so `npm run demo` works on a fresh clone
// (including installing dependencies when node_modules is absent).
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname

function newest (dir) {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

if (!existsSync(join(root, 'node_modules', 'fastify'))) {
  console.error('[setup] installing dependencies (npm ci)…')
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' })
}
const marker = join(root, 'dist', 'server.js')
if (!existsSync(marker) || statSync(marker).mtimeMs < newest(join(root, 'src'))) {
  console.error('[setup] building (npm run build)…')
  execSync('npm run build --silent', { cwd: root, stdio: 'inherit' })
}

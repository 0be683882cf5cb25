import { execFileSync } from 'node:child_process'
import { readClientScript } from '../../src/http/routes/client-script.js'

/** The built browser provider, building first when dist/ is missing or older than src/ (a single-file run). */
export function builtClientScript (): string {
  execFileSync(process.execPath, [new URL('../../scripts/ensure-built.mjs', import.meta.url).pathname], { stdio: 'inherit' })
  const script = readClientScript()
  if (script === undefined) throw new Error('dist/client/index.js is missing after the build')
  return script
}

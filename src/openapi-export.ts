import { writeFile } from 'node:fs/promises'
import { buildApp } from './http/app.js'
import { demoConfig } from './demo/config.js'

// `npm run openapi`: writes the OpenAPI document the running app serves at /docs/json.
export async function generateOpenApi (): Promise<string> {
  const app = await buildApp({ config: demoConfig('http://127.0.0.1:1'), logger: false })
  await app.ready()
  const document = JSON.stringify(app.swagger(), null, 2) + '\n'
  await app.close()
  return document
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const target = new URL('../openapi/openapi.json', import.meta.url)
  await writeFile(target, await generateOpenApi())
  console.log(`wrote ${target.pathname}`)
}

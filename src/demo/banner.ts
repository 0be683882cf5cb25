import type { Config } from '../config/index.js'
import { pinnedClientPath, subresourceIntegrity } from '../http/routes/client-script.js'
import { DEMO_KEY_NAME } from './config.js'
import { DEMO_TOKEN_LIFETIME } from './jwt.js'

export interface DemoFacts {
  address: string
  config: Config
  emulator: { url: string, mode: string, secret: string }
  /** The demo's API key when the gateway accepts it (not when GATEWAY_API_KEYS replaced it). */
  apiKey: string | undefined
  /** An end-user token for `user` when the gateway accepts the demo's tokens (not with JWT settings of the caller's own). */
  bearer: string | undefined
  user: string
  /** The built browser provider, when there is one. */
  script: string | undefined
}

const INDENT = ' '.repeat(15)

/** What `npm run demo` prints once it listens: every address, credential and first call, one per line. */
export function demoBanner ({ address, config, emulator, apiKey, bearer, user, script }: DemoFacts): string {
  const lines = [
    `openim-gateway demo: gateway ${address}, OpenIM emulator ${emulator.url}`,
    '',
    `OpenIM:        ${emulator.url}   (the emulator, ${emulator.mode} API; secret ${emulator.secret}, new on every start)`,
    `Doctor:        OPENIM_API_URL=${emulator.url} OPENIM_SECRET=${emulator.secret} npm run doctor`,
    `SDK addresses: apiAddr ${config.publicApiUrl ?? 'none'}, wsAddr ${config.publicWsUrl ?? 'none'}   (in every /provision answer)`,
    `${INDENT}the emulator serves OpenIM's REST API only: an SDK gets its token, its websocket needs a real OpenIM`,
    `Swagger UI:    ${address}/docs   (Authorize → apiKey or bearerAuth with the values below)`,
    `API key:       ${apiKey !== undefined ? `${apiKey}   (caller "${DEMO_KEY_NAME}", new on every start)` : 'yours (GATEWAY_API_KEYS)'}`,
    ...(bearer !== undefined
      ? [`Bearer token:  ${bearer}`,
        `${INDENT}(end user "${user}", valid ${DEMO_TOKEN_LIFETIME}; another user: npm run -s demo:token -- <userID>)`]
      : ['Bearer token:  from your identity provider (your JWT_* settings)']),
    `CORS origins:  ${config.corsOrigins.length > 0
      ? config.corsOrigins.join(', ')
      : 'none (CORS_ORIGINS=http://localhost:5173 npm run demo lets a page on that origin call)'}`,
    `Browser:       import { createTokenProvider } from '${address}/client.js'`,
    ...(script !== undefined
      ? [`${INDENT}pinned: ${address}${pinnedClientPath(script)}  integrity="${subresourceIntegrity(script)}"`]
      : []),
    `Service call:  curl -s -X POST ${address}/provision -H 'content-type: application/json' \\`,
    `${INDENT}  -H 'x-api-key: ${apiKey ?? '<your key>'}' -d '{"userID":"${user}","platformID":5,"nickname":"Alice"}'`,
    `End-user call: curl -s -X POST ${address}/provision -H 'content-type: application/json' \\`,
    `${INDENT}  -H "authorization: Bearer ${bearer !== undefined ? '$(npm run -s demo:token -- bob_7)' : '<token>'}" -d '{"platformID":5}'`,
    'Stop:          Ctrl+C'
  ]
  return `\n${lines.map((line) => line === '' ? '' : `  ${line}`).join('\n')}\n`
}

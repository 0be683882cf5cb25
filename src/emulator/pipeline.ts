import { ApiError, type DecodeError, errorEnvelope, objectOf, successEnvelope } from './envelope.js'
import type { Route, RouteContext } from './routes.js'
import type { Claims } from './tokens.js'

export interface EmulatorRequest { method: string, path: string, operationID?: string | undefined, token?: string | undefined, body: string }

/** What OpenIM answers: JSON (its own answers) or plain text (gin's 404, a panic's empty 500). */
export type Answer = { status: number, json: unknown } | { status: number, text: string }

const NOT_FOUND: Answer = { status: 404, text: '404 page not found' }

const envelope = (errCode: number, detail: string): Answer => ({ status: 200, json: errorEnvelope(errCode, detail) })

/** The answer to one request, in the order OpenIM's gin middleware checks things (all POST-only, except CORS). */
export async function answer (request: EmulatorRequest, routes: Record<string, Route>, ctx: RouteContext): Promise<Answer> {
  const { method, path, operationID, token } = request
  if (method === 'OPTIONS') return { status: 200, json: 'Options Request!' } // the CORS middleware, first
  if (method !== 'POST') return NOT_FOUND
  // The operationID middleware is global in every version: checked before gin finds there is no such route.
  if (operationID === undefined || operationID === '') return envelope(1001, 'header must have operationID')
  const route = routes[path]
  const { globalTokenCheck, publicPaths } = ctx.behaviour
  // v3.8+: the token middleware is global too, with a prefix whitelist; v3.7: it sits on each route.
  const needsToken = globalTokenCheck ? !publicPaths.some((prefix) => path.startsWith(prefix)) : route !== undefined && !publicPaths.includes(path)
  let caller: Claims | undefined
  if (needsToken) {
    if (token === undefined || token === '') return envelope(1001, 'header must have token')
    try {
      caller = await ctx.tokens.verify(token)
    } catch (error) {
      return envelope((error as ApiError).errCode, (error as ApiError).detail)
    }
  }
  if (route === undefined) return NOT_FOUND
  return call(route, request.body, ctx, caller)
}

/** a2r.Call: decode the body (a failure is the mode's bad-JSON answer), Check(), then the RPC. */
async function call (route: Route, rawBody: string, ctx: RouteContext, caller: Claims | undefined): Promise<Answer> {
  let request: unknown
  try {
    request = route.decode(objectOf(JSON.parse(rawBody), 'request'))
  } catch (error) {
    // JSON.parse's SyntaxError or a DecodeError: all decoding can throw.
    return { status: 200, json: ctx.behaviour.badJson((error as SyntaxError | DecodeError).message) }
  }
  try {
    route.check?.(request, ctx)
    return { status: 200, json: successEnvelope(await route.handle(request, ctx, caller), ctx.behaviour.emptyDataIsNull) }
  } catch (error) {
    if (error instanceof ApiError) return envelope(error.errCode, error.detail)
    return { status: 500, text: '' } // a panic: gin's recovery answers 500 with an empty body
  }
}

import { ApiError, type DecodeError, errorEnvelope, objectOf, successEnvelope } from './envelope.js'
import type { Route, RouteContext } from './routes.js'
import type { Claims } from './tokens.js'

export interface EmulatorRequest {
  method: string
  path: string
  operationID?: string | undefined
  token?: string | undefined
  body: string
}

/** What OpenIM answers: JSON (its own answers) or plain text (gin's 404, a panic's empty 500). */
export type Answer = { status: number, json: unknown } | { status: number, text: string }

const NOT_FOUND: Answer = { status: 404, text: '404 page not found' }
// A panic: gin's recovery answers 500 with an empty body.
const PANIC: Answer = { status: 500, text: '' }

const envelope = (errCode: number, detail: string): Answer => ({ status: 200, json: errorEnvelope(errCode, detail) })

/** An error of the API layer itself (middleware, Check()): its text reaches errDlt only where the mode says so. */
const apiError = (ctx: RouteContext, errCode: number, detail: string): Answer =>
  envelope(errCode, ctx.behaviour.apiErrorDetail ? detail : '')

/** The answer to one request, in the order OpenIM's gin middleware checks things (all POST-only, except CORS). */
export async function answer (request: EmulatorRequest, routes: Record<string, Route>, ctx: RouteContext): Promise<Answer> {
  const { method, path, operationID, token } = request
  if (method === 'OPTIONS') return { status: 200, json: 'Options Request!' } // the CORS middleware, first
  if (method !== 'POST') return NOT_FOUND
  // The operationID middleware is global in every version: checked before gin finds there is no such route.
  if (operationID === undefined || operationID === '') return apiError(ctx, 1001, 'header must have operationID')
  const route = routes[path]
  const { globalTokenCheck, publicPaths } = ctx.behaviour
  // v3.8+: the token middleware is global too, with a prefix whitelist; v3.7: it sits on each route.
  const needsToken = globalTokenCheck
    ? !publicPaths.some((prefix) => path.startsWith(prefix))
    : route !== undefined && !publicPaths.includes(path)
  let caller: Claims | undefined
  if (needsToken) {
    if (token === undefined || token === '') return apiError(ctx, 1001, 'header must have token')
    try {
      caller = await ctx.tokens.verify(token)
    } catch (error) {
      // The auth service's answer (parse_token over gRPC): its detail comes through in every version.
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
  } catch (error) {
    return error instanceof ApiError ? apiError(ctx, error.errCode, error.detail) : PANIC
  }
  try {
    return { status: 200, json: successEnvelope(await route.handle(request, ctx, caller), ctx.behaviour.emptyDataIsNull) }
  } catch (error) {
    // The RPC's own errors keep their detail in every version (it comes back over gRPC).
    return error instanceof ApiError ? envelope(error.errCode, error.detail) : PANIC
  }
}

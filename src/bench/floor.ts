import Fastify from 'fastify'
import { Pool } from 'undici'

// The floor `npm run bench` divides the gateway's CPU time by: the least a Fastify route can do with the OpenIM
// calls a provision needs (undici, JSON in and out, errCode checked) and nothing else: no authentication,
// validation, logging, metrics, headers or deadlines. One route per path of the gateway, making the same calls:
// /one (parse_token: a remembered token), /two (account_check, get_user_token: minting for an existing user),
// /four (account_check, user_register, account_check, get_user_token: a new user).
const openim = new URL(process.env.OPENIM_API_URL ?? '')
const secret = process.env.OPENIM_SECRET ?? ''
const pool = new Pool(openim.origin, { connections: 64 })

interface Envelope { errCode: number, data?: any }

async function call (path: string, body: unknown, token?: string): Promise<any> {
  const response = await pool.request({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', operationID: 'floor', ...(token === undefined ? {} : { token }) },
    body: JSON.stringify(body)
  })
  const envelope = await response.body.json() as Envelope
  if (envelope.errCode !== 0) throw new Error(`${path}: errCode ${envelope.errCode}`)
  return envelope.data
}

const admin = (await call('/auth/get_admin_token', { secret, userID: 'imAdmin' })).token as string

interface Pair { userID: string, platformID: number, token?: string }

const app = Fastify()
app.post('/one', async (request) => {
  const { token } = request.body as Pair
  return await call('/auth/parse_token', { token })
})
app.post('/two', async (request) => {
  const { userID, platformID } = request.body as Pair
  await call('/user/account_check', { checkUserIDs: [userID] }, admin)
  return await call('/auth/get_user_token', { userID, platformID }, admin)
})
app.post('/four', async (request) => {
  const { userID, platformID } = request.body as Pair
  await call('/user/account_check', { checkUserIDs: [userID] }, admin)
  await call('/user/user_register', { users: [{ userID, nickname: userID }] }, admin)
  await call('/user/account_check', { checkUserIDs: [userID] }, admin)
  return await call('/auth/get_user_token', { userID, platformID }, admin)
})

const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ ready: true, url: address })
process.on('disconnect', () => { void app.close().then(() => pool.close()).then(() => process.exit(0)) })

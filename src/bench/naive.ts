import Fastify from 'fastify'

// What a team writes by hand without the gateway, for `npm run bench` to compare against: a fresh admin
// token per request, register and ignore 1102, mint, check; four sequential calls over the global fetch.
const openim = process.env.OPENIM_API_URL ?? ''
const secret = process.env.OPENIM_SECRET ?? ''

async function call (path: string, body: unknown, token?: string) {
  const response = await fetch(openim + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', operationID: String(Date.now()), ...(token === undefined ? {} : { token }) },
    body: JSON.stringify(body)
  })
  return await response.json() as { errCode: number, data?: any }
}

const app = Fastify()
app.post('/provision', async (request, reply) => {
  const { userID, platformID } = request.body as { userID: string, platformID: number }
  const admin = await call('/auth/get_admin_token', { secret, userID: 'imAdmin' })
  const token = admin.data.token as string
  const registered = await call('/user/user_register', { users: [{ userID, nickname: userID }] }, token)
  if (registered.errCode !== 0 && registered.errCode !== 1102) return reply.code(502).send(registered)
  const minted = await call('/auth/get_user_token', { userID, platformID }, token)
  if (minted.errCode !== 0) return reply.code(502).send(minted)
  const checked = await call('/user/account_check', { checkUserIDs: [userID] }, token)
  if (checked.errCode !== 0) return reply.code(502).send(checked)
  return { userID, platformID, ...minted.data }
})

const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ ready: true, url: address })
process.on('message', () => { void app.close().then(() => process.exit(0)) })

import t from 'tap'
import { SERVICE_KEY, buildGateway, post, provision, startOpenIm, userCount } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

// Only well-formed Unicode reaches OpenIM. A lone UTF-16 surrogate (a JSON "\ud800" escape without its pair)
// becomes U+FFFD in OpenIM (Go's JSON decoder) and in the gateway's keyed digests (UTF-8), so "sur\ud800x",
// "sur\udc00x" and "sur\ufffdx" would be one user to them and three to the gateway.
const LONE = ['sur\ud800x', 'sur\udc00x', '\ud83d', 'x\udfff']

t.test('a userID with a lone surrogate is 400 on provision and revoke, before any OpenIM call; U+FFFD itself is fine', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  for (const userID of LONE) {
    for (const [url, body] of [['/provision', { userID, platformID: 5 }], ['/revoke', { userID }]] as const) {
      const response = await post(app, url, body)
      t.equal(response.statusCode, 400, `${url} ${JSON.stringify(userID)}`)
      t.match(response.json(), { code: 'INVALID_USER_ID', message: /well-formed Unicode/ })
    }
  }
  t.equal(emulator.callCount(), 0, 'nothing reached OpenIM')
})

t.test('U+FFFD and surrogate pairs are characters like any other in a userID (on an OpenIM that accepts them)', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url)
  t.equal((await provision(app, { userID: 'sur\ufffdx', platformID: 5 })).statusCode, 201)
  t.equal((await provision(app, { userID: 'emoji_\ud83d\ude00', platformID: 5 })).statusCode, 201)
  t.ok(emulator.users.has('sur\ufffdx') && emulator.users.has('emoji_\ud83d\ude00'))
})

t.test('a nickname, faceURL or ex with a lone surrogate is 400 on provision and PATCH /users/{userID}, naming the field', async (t) => {
  const emulator = await startOpenIm(t)
  emulator.addUser('ann_1')
  const { app } = await buildGateway(t, emulator.url)
  const fields = { nickname: 'Ann \ud800', faceURL: 'https://example.com/\udc00.png', ex: '{"team":"\ud800"}' }
  for (const [field, value] of Object.entries(fields)) {
    const created = await provision(app, { userID: 'new_1', platformID: 5, [field]: value })
    t.equal(created.statusCode, 400, `provision ${field}`)
    t.match(created.json(), { code: 'INVALID_REQUEST', message: new RegExp(`^body\\.${field} .*well-formed Unicode`) })
    const patched = await app.inject({ method: 'PATCH', url: '/users/ann_1', payload: { [field]: value }, headers: { 'x-api-key': SERVICE_KEY } })
    t.equal(patched.statusCode, 400, `PATCH ${field}`)
    t.match(patched.json(), { code: 'INVALID_REQUEST', message: new RegExp(`^body\\.${field} .*well-formed Unicode`) })
  }
  t.equal(userCount(emulator), 1, 'nobody registered')
  t.equal(emulator.users.get('ann_1')?.nickname, 'ann_1', 'nothing changed')
  const paired = await provision(app, { userID: 'new_2', platformID: 5, nickname: 'Ann \ud83d\ude00', faceURL: 'https://example.com/\ud83d\ude00.png', ex: '\ud83d\ude00' })
  t.equal(paired.statusCode, 201, 'surrogate pairs pass everywhere')
})

t.test('an import fails the rows with a lone surrogate, each with its reason, and creates the others', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url)
  const response = await post(app, '/users/import', {
    users: [{ userID: 'imp\ud800' }, { userID: 'imp_1', nickname: '\udc00' }, { userID: 'imp_2', ex: 'x\ud800' }, { userID: 'imp_3', nickname: 'Imp \ud83d\ude00' }]
  })
  t.equal(response.statusCode, 200)
  t.match(response.json().results, [
    { status: 'failed', code: 'INVALID_USER_ID', message: /well-formed Unicode/ },
    { userID: 'imp_1', status: 'failed', code: 'INVALID_PROFILE', message: /nickname .*well-formed Unicode/ },
    { userID: 'imp_2', status: 'failed', code: 'INVALID_PROFILE', message: /ex .*well-formed Unicode/ },
    { userID: 'imp_3', status: 'created' }
  ])
  t.same([...emulator.users.keys()].filter((userID) => userID.startsWith('imp')), ['imp_3'])
})

t.test('an end user whose subject is not well-formed is 401 invalid_token; a name claim that is not is ignored', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { GATEWAY_API_KEYS: '', JWT_SECRET, JWT_AUDIENCE: AUDIENCE })
  const refused = await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'sur\ud800x' })))
  t.equal(refused.statusCode, 401)
  t.match(refused.json(), { code: 'UNAUTHENTICATED', message: /"sub" claim is not well-formed Unicode/ })
  t.match(refused.headers['www-authenticate'], /error="invalid_token"/)
  t.equal(emulator.callCount(), 0)
  const named = await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'kim_4', name: 'Kim \ud800' })))
  t.equal(named.statusCode, 201)
  t.equal(emulator.users.get('kim_4')?.nickname, 'kim_4', 'the default nickname, not the broken claim')
})

import { createHash } from 'node:crypto'
import t from 'tap'
import { buildGateway, post, provision, startOpenIm } from '../helper.js'
import { AUDIENCE, JWT_SECRET, bearer, signHs256 } from '../jwt.js'

const jwtEnv = { JWT_SECRET, JWT_AUDIENCE: AUDIENCE }
// Test names in plain ASCII: a line separator in a name would break the TAP stream.
const escaped = (value: string) => JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

t.test('an end user\'s profile comes from their token\'s claims; the body\'s nickname, faceURL and ex are ignored', async (t) => {
  const emulator = await startOpenIm(t)
  const { app, logs } = await buildGateway(t, emulator.url, jwtEnv)
  const token = await signHs256({ sub: 'nora', name: 'Nora N.', picture: 'https://id.example.com/nora.png' })
  const response = await provision(app, { platformID: 5, nickname: 'System Administrator ✔', faceURL: 'https://evil.example.com/badge.png', ex: '{"role":"admin"}' }, bearer(token))
  t.equal(response.statusCode, 201, 'front ends that still send them keep working')
  t.match(emulator.users.get('nora'), { nickname: 'Nora N.', faceURL: 'https://id.example.com/nora.png' })
  t.notOk(emulator.users.get('nora')?.ex, 'ex is not stored')
  const ignored = logs.records.find((line) => /profile fields sent by an end user are ignored/.test(String(line.msg)))
  t.match(ignored, { level: 20, ignored: ['nickname', 'faceURL', 'ex'] }, 'logged at debug')
  t.notMatch(JSON.stringify(ignored), /System Administrator/, 'without the values')
})

t.test('JWT_NICKNAME_CLAIM and JWT_FACE_URL_CLAIM name the claims; claims that break the rules are not used', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, { ...jwtEnv, JWT_NICKNAME_CLAIM: 'nickname', JWT_FACE_URL_CLAIM: 'avatar' })
  await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'olga', name: 'ignored', nickname: 'Olga', avatar: 'http://cdn.example.com/o.png' })))
  t.match(emulator.users.get('olga'), { nickname: 'Olga', faceURL: 'http://cdn.example.com/o.png' })
  await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'pia', nickname: 'Pia\u202Enimda', avatar: 'javascript:alert(1)' })))
  t.match(emulator.users.get('pia'), { nickname: 'pia' }, 'the nickname falls back to the userID')
  t.notOk(emulator.users.get('pia')?.faceURL)
  await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: 'quin', nickname: 42 })))
  t.match(emulator.users.get('quin'), { nickname: 'quin' }, 'a claim that is not a string is not used')
})

t.test('for every caller, nicknames with control characters, bidi controls or nothing visible, and non-http(s) faceURLs are 400', async (t) => {
  const emulator = await startOpenIm(t)
  const { app } = await buildGateway(t, emulator.url, jwtEnv)
  const endUser = bearer(await signHs256({ sub: 'rex' }))
  const nicknames = ['Admin\u202Eevil', 'bell\u0007', 'line\nbreak', 'iso\u2066late', 'mark\u200F', '   ', '\u200B', '\u00A0\u2003', 'para\u2029']
  const faceURLs = ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'ftp://example.com/a.png', '//example.com/a.png', 'https://exa mple.com/a.png', '']
  for (const headers of [{}, endUser]) {
    const who = 'authorization' in headers ? 'end user' : 'service'
    for (const nickname of nicknames) {
      const response = await provision(app, { userID: 'rex', platformID: 5, nickname }, headers)
      t.equal(response.statusCode, 400, `${who}: ${escaped(nickname)}`)
      t.match(response.json(), { code: 'INVALID_REQUEST', message: 'body.nickname must not contain control characters or bidirectional-text controls, must contain a letter' })
    }
    for (const faceURL of faceURLs) {
      const response = await provision(app, { userID: 'rex', platformID: 5, faceURL }, headers)
      t.equal(response.statusCode, 400, `${who}: ${escaped(faceURL)}`)
      t.match(response.json(), { message: 'body.faceURL must be an http:// or https:// URL' })
    }
  }
  t.equal(emulator.callCount('/user/user_register'), 0)
  const fine = await provision(app, { userID: 'sam', platformID: 5, nickname: 'Sam 👨‍👩‍👧 (עברית) ✔', faceURL: 'https://example.com/s.png?size=64' })
  t.equal(fine.statusCode, 201, 'emoji sequences, right-to-left scripts and symbols are fine')
  t.match(emulator.users.get('sam'), { nickname: 'Sam 👨‍👩‍👧 (עברית) ✔', faceURL: 'https://example.com/s.png?size=64' })
})

// OpenIM up to v3.7 registers any userID without ":", so an ID can carry what the nickname rule refuses: a
// default nickname copied from it would bring the bidi override back ("\u202Enimda_x" displays as "x_admin").
const SPOOFING_ID = '\u202Enimda_x'
const NEUTRAL = `user_${createHash('sha256').update(SPOOFING_ID).digest('hex').slice(0, 12)}`

t.test('legacy OpenIM: a provisioned userID that breaks the nickname rule gets a neutral default nickname, a fine one keeps its ID', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url)
  t.equal((await provision(app, { userID: SPOOFING_ID, platformID: 5 })).statusCode, 201)
  t.equal(emulator.users.get(SPOOFING_ID)?.nickname, NEUTRAL)
  t.equal((await provision(app, { userID: 'user-1.b', platformID: 5 })).statusCode, 201)
  t.equal(emulator.users.get('user-1.b')?.nickname, 'user-1.b')
  t.equal((await provision(app, { userID: '\u2066iso', platformID: 5, nickname: 'Iso' })).statusCode, 201)
  t.equal(emulator.users.get('\u2066iso')?.nickname, 'Iso', 'a nickname given is used as it is')
})

t.test('legacy OpenIM: an imported userID that breaks the nickname rule gets the same neutral default nickname', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url)
  const response = await post(app, '/users/import', { users: [{ userID: SPOOFING_ID }, { userID: 'user-2.b' }] })
  t.match(response.json(), { created: 2, failed: 0 })
  t.equal(emulator.users.get(SPOOFING_ID)?.nickname, NEUTRAL)
  t.equal(emulator.users.get('user-2.b')?.nickname, 'user-2.b')
})

t.test('legacy OpenIM: an end user whose subject breaks the nickname rule and whose name claim is refused gets the neutral nickname', async (t) => {
  const emulator = await startOpenIm(t, { mode: 'legacy' })
  const { app } = await buildGateway(t, emulator.url, jwtEnv)
  const response = await provision(app, { platformID: 5 }, bearer(await signHs256({ sub: SPOOFING_ID, name: '\u202Enimda_x' })))
  t.equal(response.statusCode, 201)
  t.equal(emulator.users.get(SPOOFING_ID)?.nickname, NEUTRAL)
})

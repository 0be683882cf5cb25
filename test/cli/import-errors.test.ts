import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { SERVICE_KEY } from '../helper.js'
import { folder, gateway, runCli } from './cli-helper.js'

t.test('a refused API key, a missing GATEWAY_URL, a bad header or a missing file stop the run with exit 2', async (t) => {
  const { url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nk_1\n')
  const refused = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: 'wrong-key-0123456789' })
  t.equal(refused.code, 2)
  t.match(refused.stderr, /refused the import \(401 UNAUTHENTICATED\)/)
  t.notMatch(refused.stderr + refused.stdout, /wrong-key-0123456789/, 'the key is never printed')
  const noUrl = await runCli([csv], {})
  t.equal(noUrl.code, 2)
  t.match(noUrl.stderr, /GATEWAY_URL/)
  await writeFile(csv, 'id,name\nk_1,K\n')
  const header = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: SERVICE_KEY })
  t.equal(header.code, 2)
  t.match(header.stderr, /CSV header must name the columns userID,nickname,faceURL,ex/)
  const missing = await runCli([join(dir, 'nope.csv')], { GATEWAY_URL: url })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /ENOENT/)
  t.equal((await runCli(['--help'], {})).code, 0)
})

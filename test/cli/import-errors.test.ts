import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { SERVICE_KEY } from '../helper.js'
import { folder, gateway, runCli, summary } from './cli-helper.js'

t.test('a refused API key, a missing GATEWAY_URL, a bad header or a missing file stop the run with exit 2', async (t) => {
  const { url } = await gateway(t)
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nk_1\n')
  const refused = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: 'wrong-key-0123456789' })
  t.equal(refused.code, 2)
  t.match(refused.stderr, /refused the import \(401 UNAUTHENTICATED\)/)
  t.notMatch(refused.stderr + refused.stdout, /wrong-key-0123456789/, 'the key is never printed')
  const emptyKey = await runCli([csv], { GATEWAY_URL: url, GATEWAY_API_KEY: '' })
  t.equal(emptyKey.code, 2)
  t.match(emptyKey.stderr, /refused the import \(401 UNAUTHENTICATED\)/, 'an empty GATEWAY_API_KEY counts as unset')
  const noUrl = await runCli([csv], { GATEWAY_URL: '' })
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

const API_KEY = 'APIKEY-0123456789abcdefSECRET'

/** A real HTTP server on `host` that records what reaches it and answers with `answer`. */
async function recordingServer (t: Test, host: string, answer: (response: ServerResponse) => void) {
  const received: Array<{ headers: IncomingHttpHeaders, body: string }> = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk) => { body += chunk })
    request.on('end', () => {
      received.push({ headers: request.headers, body })
      answer(response)
    })
  })
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { server, received, url: `http://${host}:${(server.address() as AddressInfo).port}` }
}

t.test('a redirect stops the run with exit 2: the API key and the rows never reach the host it points to', async (t) => {
  const elsewhere = await recordingServer(t, '127.0.0.2', (response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"status":"created"}],"created":1,"existing":0,"failed":0}')
  })
  let location = `${elsewhere.url}/users/import`
  const redirecting = await recordingServer(t, '127.0.0.1', (response) => { response.writeHead(308, { location }).end() })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nr_1\n')
  const run = await runCli([csv], { GATEWAY_URL: redirecting.url, GATEWAY_API_KEY: API_KEY })
  t.equal(run.code, 2, run.stderr)
  t.match(run.stderr, `the gateway answered 308 redirecting to ${elsewhere.url}/users/import; redirects are not followed`)
  t.equal(redirecting.received.length, 1, 'the configured address got the one request')
  t.same(elsewhere.received, [], 'the other host received nothing')
  t.notMatch(run.stdout + run.stderr, /APIKEY/)

  location = `${elsewhere.url.replace('//', '//bob:hunter2@')}/users/import?token=sekrit`
  const withSecrets = await runCli([csv], { GATEWAY_URL: redirecting.url, GATEWAY_API_KEY: API_KEY })
  t.equal(withSecrets.code, 2)
  t.match(withSecrets.stderr, `redirecting to ${elsewhere.url}/users/import;`)
  t.notMatch(withSecrets.stdout + withSecrets.stderr, /hunter2|sekrit/, 'a Location\'s credentials and query are not printed')
})

t.test('GATEWAY_URL with user:pass@ is refused at start-up (exit 2) without printing the password or sending a row', async (t) => {
  const server = await recordingServer(t, '127.0.0.1', (response) => { response.writeHead(500).end() })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failures.ndjson')
  await writeFile(csv, 'userID\nc_1\nc_2\n')
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: server.url.replace('//', '//bob:sekritpw@'), GATEWAY_API_KEY: API_KEY })
  t.equal(run.code, 2)
  t.match(run.stderr, 'GATEWAY_URL must not carry a user name or password (user:pass@)')
  t.notMatch(run.stdout + run.stderr, /sekritpw|APIKEY/)
  t.same(server.received, [])
  await t.rejects(readFile(failures), { code: 'ENOENT' }, 'no row failed: the run never started')
  const user = await runCli([csv], { GATEWAY_URL: server.url.replace('//', '//bob@') })
  t.equal(user.code, 2, 'a user name alone too')
  const invalid = await runCli([csv], { GATEWAY_URL: 'http://[::1' })
  t.equal(invalid.code, 2)
  t.match(invalid.stderr, 'GATEWAY_URL is not a valid URL')
})

t.test('no gateway at GATEWAY_URL (connection refused): exit 2 at the first batch with one line, no row retried or failed', async (t) => {
  // A port that was just free: nothing listens there any more.
  const closed = await recordingServer(t, '127.0.0.1', () => {})
  await new Promise((resolve) => { closed.server.close(resolve) })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failures.ndjson')
  await writeFile(csv, 'userID\n' + Array.from({ length: 20_000 }, (_, i) => `u_${i}`).join('\n') + '\n')
  const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: closed.url, GATEWAY_API_KEY: API_KEY })
  t.equal(run.code, 2, run.stderr)
  t.match(run.stderr, `error: no gateway at ${closed.url}: connection refused (ECONNREFUSED)`)
  t.notMatch(run.stderr, /waiting .* before retrying/, 'not retried')
  const counts = summary(run.stdout)!
  t.match(counts, { created: 0, existing: 0, failed: 0 })
  t.equal(counts.notAttempted, counts.records)
  t.match(run.stdout, /--from-line 2\b/)
  t.equal(await readFile(failures, 'utf8'), '', 'no row failed')
  t.notMatch(run.stdout + run.stderr, /APIKEY/)
})

t.test('a DNS failure, an answer that is not the gateway\'s, or 404 for /users/import: exit 2 at the first batch', async (t) => {
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nx_1\nx_2\n')
  const dns = await runCli([csv], { GATEWAY_URL: 'http://no-such-gateway.invalid', GATEWAY_API_KEY: API_KEY })
  t.equal(dns.code, 2, dns.stderr)
  t.match(dns.stderr, /error: no gateway at http:\/\/no-such-gateway\.invalid: the name does not resolve \((ENOTFOUND|EAI_AGAIN)\)/)

  const proxy = await recordingServer(t, '127.0.0.1', (response) => {
    response.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>')
  })
  const html = await runCli([csv, '--retries', '5'], { GATEWAY_URL: proxy.url, GATEWAY_API_KEY: API_KEY })
  t.equal(html.code, 2, html.stderr)
  t.match(html.stderr, `error: ${proxy.url}/users/import answered HTTP 502 without the gateway's JSON error body: is GATEWAY_URL the gateway's address?`)
  t.equal(proxy.received.length, 1, 'not retried')

  const other = await recordingServer(t, '127.0.0.1', (response) => {
    response.writeHead(404, { 'content-type': 'application/json' })
      .end('{"statusCode":404,"code":"NOT_FOUND","error":"Not Found","message":"Route POST:/users/import not found"}')
  })
  const missing = await runCli([csv], { GATEWAY_URL: other.url, GATEWAY_API_KEY: API_KEY })
  t.equal(missing.code, 2, missing.stderr)
  t.match(missing.stderr, /refused the import \(404 NOT_FOUND\)/)
  t.equal(summary(missing.stdout)?.notAttempted, 2)
})

t.test('network errors after the gateway has answered are retried (--retries); the run goes on', async (t) => {
  let requests = 0
  const server = await recordingServer(t, '127.0.0.1', (response) => {
    requests += 1
    // The second request's connection is cut without an answer; every other request is answered.
    if (requests === 2) {
      response.socket?.destroy()
      return
    }
    response.writeHead(200, { 'content-type': 'application/json' })
      .end('{"results":[{"userID":"x","status":"created"}],"created":1,"existing":0,"failed":0}')
  })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nn_1\nn_2\nn_3\n')
  const run = await runCli([csv, '--batch-size', '1', '--concurrency', '1'], { GATEWAY_URL: server.url, GATEWAY_API_KEY: API_KEY })
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, /waiting 1\.0 s before retrying a batch: gateway unreachable/)
  t.equal(server.received.length, 4, 'three batches, one of them twice')
  t.match(summary(run.stdout), { records: 3, created: 3, failed: 0 })
})

t.test('an answer larger than 8 MiB stops the run with exit 2 at the first batch: read no further, no row failed', async (t) => {
  const server = await recordingServer(t, '127.0.0.1', (response) => {
    // Streamed without a Content-Length, so the cap is found while reading.
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write('{"results":[{"status":"created","message":"')
    const chunk = 'x'.repeat(1024 * 1024)
    for (let i = 0; i < 9; i++) response.write(chunk)
    response.end('"}]}')
  })
  const declared = await recordingServer(t, '127.0.0.1', (response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(9 * 1024 * 1024) })
    response.write('{"results":[')
  })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failures.ndjson')
  await writeFile(csv, 'userID\nbig_1\nbig_2\n')
  for (const { url } of [server, declared]) {
    const run = await runCli([csv, '--failures', failures], { GATEWAY_URL: url, GATEWAY_API_KEY: API_KEY })
    t.equal(run.code, 2, run.stderr)
    t.match(run.stderr, `error: ${url}/users/import answered more than the gateway ever does (the answer was larger than 8 MiB)`)
    t.match(summary(run.stdout), { records: 2, created: 0, failed: 0, notAttempted: 2 })
    t.match(run.stdout, /--from-line 2\b/)
    t.equal(await readFile(failures, 'utf8'), '', 'no row failed: their outcome is unknown')
  }
})

/** Every control character but tab and newline. */
const CONTROL_CHARACTERS = /(?![\t\n])\p{Cc}/u

t.test('escape sequences in what the server answers are never printed: failed rows, the failures file, a refusal', async (t) => {
  const hostile = 'evil\u001b[2J\u001b]0;owned\u0007\r\u009b31mred\u0085'
  const rows = await recordingServer(t, '127.0.0.1', (response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ results: [{ status: 'failed', code: 'BAD\u001b[1m', message: hostile }], created: 0, existing: 0, failed: 1 }))
  })
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  const failures = join(dir, 'failures.ndjson')
  await writeFile(csv, 'userID\nesc_\u009b1\n')
  const failed = await runCli([csv, '--failures', failures], { GATEWAY_URL: rows.url, GATEWAY_API_KEY: API_KEY })
  t.equal(failed.code, 1, failed.stderr)
  const withoutFile = await runCli([csv], { GATEWAY_URL: rows.url, GATEWAY_API_KEY: API_KEY })
  t.equal(withoutFile.code, 1, withoutFile.stderr)
  t.match(withoutFile.stdout, 'evil[2J]0;owned')
  const file = await readFile(failures, 'utf8')
  for (const [what, text] of [['output', failed.stdout + failed.stderr], ['output listing rows', withoutFile.stdout + withoutFile.stderr],
    ['failures file', file]]) {
    t.notMatch(text!, CONTROL_CHARACTERS, `${what}: no control character`)
  }
  t.match(JSON.parse(file), { line: 2, userID: 'esc_\u009b1', code: 'BAD[1m', message: 'evil[2J]0;owned31mred' },
    'the file keeps the row\'s own userID (escaped), the server\'s text without its controls')

  const refusal = await recordingServer(t, '127.0.0.1', (response) => {
    response.writeHead(401, { 'content-type': 'application/json' })
      .end(JSON.stringify({ statusCode: 401, code: 'UNAUTHENTICATED\u001b[8m', error: 'Unauthorized', message: hostile, requestId: 'r' }))
  })
  const refused = await runCli([csv], { GATEWAY_URL: refusal.url, GATEWAY_API_KEY: API_KEY })
  t.equal(refused.code, 2)
  t.match(refused.stderr, 'refused the import (401 UNAUTHENTICATED[8m): evil[2J]0;owned31mred')
  t.notMatch(refused.stdout + refused.stderr, CONTROL_CHARACTERS)
})

t.test('an API key sent over http:// to another machine is warned about (never printed); loopback and https are not', async (t) => {
  const dir = await folder(t)
  const csv = join(dir, 'users.csv')
  await writeFile(csv, 'userID\nw_1\n')
  const server = await recordingServer(t, '127.0.0.1', (response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"status":"created"}]}')
  })
  const port = new URL(server.url).port
  const remote = await runCli([csv], { GATEWAY_URL: 'http://no-such-gateway.invalid:3000', GATEWAY_API_KEY: API_KEY })
  t.match(remote.stderr, 'warning: GATEWAY_API_KEY is sent in clear text to no-such-gateway.invalid:3000 (GATEWAY_URL is http://, not https://)')
  t.notMatch(remote.stdout + remote.stderr, /APIKEY/)
  for (const [env, why] of [
    [{ GATEWAY_URL: 'https://no-such-gateway.invalid', GATEWAY_API_KEY: API_KEY }, 'https'],
    [{ GATEWAY_URL: 'http://no-such-gateway.invalid' }, 'no key'],
    [{ GATEWAY_URL: server.url, GATEWAY_API_KEY: API_KEY }, '127.0.0.1'],
    [{ GATEWAY_URL: `http://localhost:${port}`, GATEWAY_API_KEY: API_KEY }, 'localhost'],
    [{ GATEWAY_URL: `http://[::1]:${port}`, GATEWAY_API_KEY: API_KEY }, '::1']
  ] as const) {
    t.notMatch((await runCli([csv], env)).stderr, /warning/, why)
  }
})

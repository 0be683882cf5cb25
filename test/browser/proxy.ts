import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

interface Teardown { teardown (fn: () => unknown): void }

/** What the proxy does with a POST /provision: pass it to the gateway, or answer a 502 page of its own. */
export type ProxyAnswer = 'forward' | { status: 502, cors: boolean }

/**
 * A reverse proxy in front of the gateway, as a load balancer or ingress is: everything is passed through, except
 * the POST /provision requests `decide` answers itself (its argument counts them from 1). A proxy's error page
 * carries CORS headers only when the proxy adds them (nginx `add_header … always`); without them the page sees a
 * network failure, not the status. `posts` lists what each POST /provision got: the status, or 'forwarded'.
 */
export async function startProxy (t: Teardown, gatewayPort: number, decide: (post: number) => ProxyAnswer) {
  const posts: Array<number | 'forwarded'> = []
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'POST' && request.url === '/provision') {
      const answer = decide(posts.length + 1)
      if (answer !== 'forward') {
        posts.push(answer.status)
        request.resume()
        const cors = answer.cors && request.headers.origin !== undefined ? { 'access-control-allow-origin': request.headers.origin } : {}
        response.writeHead(answer.status, { 'content-type': 'text/html', ...cors }).end('<html><body><h1>502 Bad Gateway</h1></body></html>')
        return
      }
      posts.push('forwarded')
    }
    const upstream = forward({ host: '127.0.0.1', port: gatewayPort, method: request.method, path: request.url, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => response.destroy())
    request.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => {
    server.closeAllConnections()
    server.close(resolve)
  }))
  return { url: `http://proxy.test:${(server.address() as AddressInfo).port}`, posts }
}

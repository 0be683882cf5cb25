import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError } from '../../errors.js'
import type { Lifecycle } from '../../operations/readiness.js'
import { sendError } from './error-handling.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Answered as usual while the gateway shuts down (the probes); every other route answers 503 SHUTTING_DOWN. */
    servedWhileClosing?: boolean
  }
  interface FastifyInstance {
    /** Where this replica is in its life: /readyz answers 503 unless it is serving. */
    lifecycle (): Lifecycle
    /**
     * For the shutdown timeout: answers every request still running 503 SHUTTING_DOWN with Connection:
     * close where nothing was sent yet, and returns the ids of all of them (answered or not).
     */
    cutUnfinishedRequests (): { requestIds: string[], finished: Promise<void> }
  }
}

const FLUSH_WAIT_MS = 1000
// Another replica can take the request at once.
const SHUTTING_DOWN_RETRY_AFTER_SECONDS = 1

/** Tracks the requests in flight so a shutdown can end them with an answer instead of a reset. */
async function shutdown (app: FastifyInstance) {
  const unfinished = new Set<FastifyReply>()
  app.addHook('onRequest', (_request, reply, done) => {
    unfinished.add(reply)
    // 'close' comes however the response ends: finished, failed, or the client gone.
    reply.raw.once('close', () => unfinished.delete(reply))
    done()
  })
  // Once shutdown starts, answers close their connection: a keep-alive socket would otherwise hold
  // server.close() open until it idles out, long after the last request finished. New requests on such
  // sockets are refused in the one error shape (Fastify's own 503 is off: return503OnClosing), the probes
  // excepted, so /readyz can say why.
  let lifecycle: Lifecycle = 'serving'
  app.decorate('lifecycle', () => lifecycle)
  app.addHook('preClose', async () => { lifecycle = 'shutting_down' })
  app.addHook('onRequest', (request, _reply, done) => {
    if (lifecycle === 'shutting_down' && request.routeOptions.config.servedWhileClosing !== true) {
      done(new GatewayError(503, 'SHUTTING_DOWN', 'the gateway is shutting down; retry on another replica', {},
        { 'retry-after': String(SHUTTING_DOWN_RETRY_AFTER_SECONDS) }))
    } else {
      done()
    }
  })
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (lifecycle === 'shutting_down') reply.header('connection', 'close')
    done(null, payload)
  })

  app.decorate('cutUnfinishedRequests', () => {
    const cut = [...unfinished]
    const flushed = cut.map((reply) => {
      if (!reply.sent && !reply.raw.headersSent) {
        void sendError(reply.header('connection', 'close'), new GatewayError(503, 'SHUTTING_DOWN',
          'the gateway is shutting down and this request did not finish in time; retry', {},
          { 'retry-after': String(SHUTTING_DOWN_RETRY_AFTER_SECONDS) }))
      }
      return new Promise<void>((resolve) => {
        if (reply.raw.writableFinished || reply.raw.destroyed) resolve()
        else reply.raw.once('close', resolve).once('finish', resolve)
      })
    })
    const finished = Promise.race([
      Promise.all(flushed).then(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, FLUSH_WAIT_MS).unref())
    ])
    return { requestIds: cut.map((reply) => reply.request.id), finished }
  })
}

export default fp(shutdown, { name: 'shutdown' })

import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayError } from '../../errors.js'
import { sendError } from './error-handling.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * For the shutdown timeout: answers every request still running 503 SHUTTING_DOWN with Connection:
     * close where nothing was sent yet, and returns the ids of all of them (answered or not).
     */
    cutUnfinishedRequests (): { requestIds: string[], finished: Promise<void> }
  }
}

const FLUSH_WAIT_MS = 1000

/** Tracks the requests in flight so a shutdown can end them with an answer instead of a reset. */
async function shutdown (app: FastifyInstance) {
  const unfinished = new Set<FastifyReply>()
  app.addHook('onRequest', async (_request, reply) => {
    unfinished.add(reply)
    // 'close' comes however the response ends: finished, failed, or the client gone.
    reply.raw.once('close', () => unfinished.delete(reply))
  })
  // Once shutdown starts, answers close their connection: a keep-alive socket would otherwise hold
  // server.close() open until it idles out, long after the last request finished.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_request, reply) => { if (closing) reply.header('connection', 'close') })

  app.decorate('cutUnfinishedRequests', () => {
    const cut = [...unfinished]
    const flushed = cut.map((reply) => {
      if (!reply.sent && !reply.raw.headersSent) {
        void sendError(reply.header('connection', 'close'), new GatewayError(503, 'SHUTTING_DOWN',
          'the gateway is shutting down and this request did not finish in time; retry'))
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

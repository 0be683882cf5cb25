/**
 * The most of an answer the CLI reads. The gateway's largest answer (IMPORT_MAX_USERS = 5,000 results, each a userID
 * and a short message) is well under 4 MiB; without a cap, whatever answers at GATEWAY_URL could stream until the
 * CLI (run with a 64 MB heap) runs out of memory.
 */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024

/** Thrown when an answer is larger than MAX_ANSWER_BYTES: no gateway answers that. */
export class AnswerTooLarge extends Error {
  constructor () {
    super(`the answer was larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`)
  }
}

/** The answer's JSON body, undefined when it is not JSON; reads no more than MAX_ANSWER_BYTES. */
export async function readJsonAnswer (response: Response): Promise<unknown> {
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > MAX_ANSWER_BYTES) {
    await response.body?.cancel().catch(() => {})
    throw new AnswerTooLarge()
  }
  if (response.body === null) return undefined
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of response.body) {
    size += chunk.byteLength
    if (size > MAX_ANSWER_BYTES) throw new AnswerTooLarge() // leaving the loop cancels the rest of the stream
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return undefined
  }
}

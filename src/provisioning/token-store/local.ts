import type { LocalMintLock } from '../mint-lock.js'
import type { MemoryTokenStore } from './memory.js'
import type { Look, PairFlow, RememberedToken, SessionStore, TokenPair } from './store.js'

/** Without Redis: tokens remembered in this replica's memory, and mints locked within this process. */
export class LocalSessionStore implements SessionStore {
  constructor (private readonly memory: MemoryTokenStore, private readonly lock: LocalMintLock) {}

  flow (pair: TokenPair): PairFlow {
    const { memory, lock } = this
    const passed = new Set<string>()
    let release: (() => void) | undefined
    return {
      async look (recall: boolean): Promise<Look> {
        const entry = recall ? memory.recallNow(pair) : undefined
        if (entry !== undefined && !passed.has(entry.token)) return { kind: 'remembered', entry }
        release ??= lock.hold(pair)
        if (release === undefined) return { kind: 'busy' }
        return {
          kind: 'lease',
          lease: {
            renew: async () => release !== undefined,
            remember: async (minted: RememberedToken) => {
              memory.rememberNow(pair, minted)
              release?.()
              release = undefined
            }
          }
        }
      },
      async pass (entry: RememberedToken, stale: boolean) {
        passed.add(entry.token)
        if (stale) memory.forgetNow(pair, entry)
      },
      async handedOut () {},
      async end () {
        release?.()
        release = undefined
      }
    }
  }

  async forget (userID: string, platformIDs: number[]): Promise<void> {
    for (const platformID of platformIDs) this.memory.forgetNow({ userID, platformID })
  }
}

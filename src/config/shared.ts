import Type from 'typebox'

// What every group of settings uses: the error that stops start-up, and the common value shapes.
export class ConfigError extends Error {}

export const fail = (message: string): never => { throw new ConfigError(`invalid configuration: ${message}`) }

export const httpUrl = '^https?://[^\\s/?#]+[^\\s?#]*$'
export const wsUrl = '^wss?://[^\\s/?#]+[^\\s]*$'

/**
 * An integer setting with its range, default and description. Every setting's `description` is its row in the
 * configuration reference (`npm run docs`), Markdown allowed; the default and range columns come from the schema. A
 * default the code computes cannot be the schema's `default` (the validator would apply it as a value): such a
 * setting is optional, and its description begins "Default: <the rule>." (the generator shows the rule as its default).
 */
export const positiveInt = (min: number, max: number, defaultValue: number, description: string) =>
  Type.Integer({ minimum: min, maximum: max, default: defaultValue, description })

/**
 * The placeholders of .env.example and the docs ("change-me-…"). They are public, so a stack started without
 * editing them would let anyone who has read the repository in: refused, not warned about.
 */
export const isPlaceholder = (value: string) => /^change-?me/i.test(value)

/**
 * A URL setting's value, refused when it is no URL or carries user:pass@ (`why`: why it must not). A URL the
 * gateway calls with undici or fetch would drop or refuse the credentials; one it hands to clients would give
 * them away.
 */
export function withoutCredentials (name: string, value: string, why: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail(`${name} is not a valid URL`)
  }
  if (url.username !== '' || url.password !== '') fail(`${name} must not carry a user name or password (user:pass@): ${why}`)
  return value
}

/** A comma-separated list, trimmed, without empty entries. */
export const commaList = (value: string | undefined): string[] =>
  value === undefined ? [] : value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')

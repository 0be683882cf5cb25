import Type from 'typebox'

// What every group of settings uses: the error that stops start-up, and the common value shapes.
export class ConfigError extends Error {}

export const fail = (message: string): never => { throw new ConfigError(`invalid configuration: ${message}`) }

export const httpUrl = '^https?://[^\\s/?#]+[^\\s?#]*$'
export const wsUrl = '^wss?://[^\\s/?#]+[^\\s]*$'

export const positiveInt = (min: number, max: number, defaultValue: number) =>
  Type.Integer({ minimum: min, maximum: max, default: defaultValue })

/**
 * The placeholders of .env.example and the docs ("change-me-…"). They are public, so a stack started without
 * editing them would let anyone who has read the repository in: refused, not warned about.
 */
export const isPlaceholder = (value: string) => /^change-?me/i.test(value)

/** A comma-separated list, trimmed, without empty entries. */
export const commaList = (value: string | undefined): string[] =>
  value === undefined ? [] : value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')

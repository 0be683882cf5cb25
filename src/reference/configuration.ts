import { AuthEnv } from '../config/auth.js'
import { EnvSchema } from '../config/index.js'
import { LimitsEnv } from '../config/limits.js'
import { OpenImEnv } from '../config/openim.js'
import { RedisEnv } from '../config/redis.js'
import { ServerEnv } from '../config/server.js'
import { SessionEnv } from '../config/session.js'
import { TracingEnv } from '../config/tracing.js'
import { UsersEnv } from '../config/users.js'
import { CliEnv } from '../cli/options.js'
import { E2eEnv } from '../e2e/settings.js'
import { EmulatorEnv } from '../emulator/env.js'
import { code, table } from './markdown.js'

// The configuration tables: one row per variable of a settings schema, its default and range read from the schema
// and its meaning from the schema's description.

interface Setting {
  type?: string
  default?: unknown
  description?: string
  minimum?: number
  maximum?: number
  minLength?: number
  maxLength?: number
  anyOf?: Array<{ const?: unknown }>
}

interface SettingsGroup { properties: Record<string, Setting>, required?: string[] }

/** The groups a `config` block may name: the gateway's (EnvSchema is made of them) and the tools' own. */
export const SETTINGS_GROUPS: Record<string, SettingsGroup> = {
  OpenImEnv, ServerEnv, AuthEnv, LimitsEnv, RedisEnv, UsersEnv, TracingEnv, SessionEnv, EmulatorEnv, CliEnv, E2eEnv
}

/** Every variable the gateway reads: each must be in some `config` block. */
export const gatewayVariables = () => Object.keys(EnvSchema.properties)

// A default the code computes cannot be the schema's `default` (the validator would apply it as a value): the
// description begins "Default: <rule>." instead (see positiveInt in src/config/shared.ts).
const COMPUTED_DEFAULT = /^Default: (.+?)\.(?: |$)/

const number = (value: number) => String(value).replace('-', '−')

function range (setting: Setting): string {
  if (setting.anyOf !== undefined) return setting.anyOf.map((option) => code(String(option.const))).join(', ')
  if (setting.type === 'boolean') return `${code('true')}, ${code('false')}`
  if (setting.minimum !== undefined && setting.maximum !== undefined) return `${number(setting.minimum)}–${number(setting.maximum)}`
  if (setting.maxLength !== undefined) return `${setting.minLength ?? 0}–${setting.maxLength} characters`
  // minLength 1 says nothing here: an empty variable counts as unset anyway.
  if (setting.minLength !== undefined && setting.minLength > 1) return `${setting.minLength}+ characters`
  return ''
}

function row (name: string, setting: Setting, required: boolean): string[] {
  const description = setting.description
  if (description === undefined) throw new Error(`${name} has no description: describe it in its schema (src/config/, or the tool's)`)
  const computed = COMPUTED_DEFAULT.exec(description)
  if (computed !== null && (required || setting.default !== undefined)) {
    throw new Error(`${name}: a "Default:" description is for optional settings the schema gives no default`)
  }
  const meaning = computed === null ? description : description.slice(computed[0].length)
  const defaultValue = setting.default !== undefined
    ? code(String(setting.default))
    : computed?.[1] ?? (required ? 'required' : 'unset')
  return [code(name), defaultValue, range(setting), meaning]
}

/** The table of a `config` block, and the variables it shows. */
export function settingsTable (groupNames: string[], groups = SETTINGS_GROUPS): { markdown: string, variables: string[] } {
  const rows: string[][] = []
  const variables: string[] = []
  for (const groupName of groupNames) {
    const group = groups[groupName]
    if (group === undefined) throw new Error(`no settings group ${groupName} (known: ${Object.keys(groups).join(', ')})`)
    for (const [name, setting] of Object.entries(group.properties)) {
      rows.push(row(name, setting, group.required?.includes(name) ?? false))
      variables.push(name)
    }
  }
  return { markdown: table(['variable', 'default', 'range', 'meaning'], rows), variables }
}

// OpenIM's reply envelope and error names (openimsdk/tools errs, open-im-server servererrs).
const ERROR_NAMES: Record<number, string> = {
  500: 'ServerInternalError',
  1001: 'ArgsError',
  1002: 'NoPermissionError',
  1003: 'DuplicateKeyError',
  1004: 'RecordNotFoundError',
  1101: 'UserIDNotFoundError',
  1102: 'RegisteredAlreadyError',
  1501: 'TokenExpiredError',
  1502: 'TokenInvalidError',
  1503: 'TokenMalformedError',
  1504: 'TokenNotValidYetError',
  1505: 'TokenUnknownError',
  1506: 'TokenKickedError',
  1507: 'TokenNotExistError'
}

export class ApiError extends Error {
  constructor (readonly errCode: number, readonly detail: string) {
    super(detail)
  }
}

export function errorEnvelope (errCode: number, detail = ''): Record<string, unknown> {
  return { errCode, errMsg: ERROR_NAMES[errCode] ?? 'UnknownError', errDlt: detail }
}

/**
 * Empty successes (user_register, force_logout) carry `"data": null` up to v3.8.0 and answer exactly the
 * three keys from v3.8.1 (tools apiresp/resp.go).
 */
export function successEnvelope (data: unknown, emptyDataIsNull: boolean): Record<string, unknown> {
  const envelope: Record<string, unknown> = { errCode: 0, errMsg: '', errDlt: '' }
  if (data !== undefined) envelope.data = data
  else if (emptyDataIsNull) envelope.data = null
  return envelope
}

/** Thrown where Go's encoding/json would fail to decode the body into the request struct. */
export class DecodeError extends Error {}

const unmarshalError = (value: unknown, name: string, type: string) =>
  new DecodeError(`json: cannot unmarshal ${typeof value} into Go struct field .${name} of type ${type}`)

/** Go's encoding/json matches keys case-insensitively (exact match first) and ignores unknown ones. */
export function field (body: Record<string, unknown>, name: string): unknown {
  if (name in body) return body[name]
  const lower = name.toLowerCase()
  const key = Object.keys(body).find((candidate) => candidate.toLowerCase() === lower)
  return key === undefined ? undefined : body[key]
}

export function stringField (body: Record<string, unknown>, name: string): string {
  const value = field(body, name)
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') throw unmarshalError(value, name, 'string')
  return value
}

export function intField (body: Record<string, unknown>, name: string): number {
  const value = field(body, name)
  if (value === undefined || value === null) return 0
  if (typeof value !== 'number' || !Number.isInteger(value)) throw unmarshalError(value, name, 'int32')
  return value
}

/** A JSON array as Go decodes it into a slice: absent or null is a nil slice (undefined), unlike `[]`. */
export function arrayField (body: Record<string, unknown>, name: string): unknown[] | undefined {
  const value = field(body, name)
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new DecodeError(`json: cannot unmarshal ${typeof value} into Go struct field .${name} of type []`)
  return value
}

export function stringArrayField (body: Record<string, unknown>, name: string): string[] | undefined {
  return arrayField(body, name)?.map((value) => {
    if (typeof value !== 'string') throw unmarshalError(value, name, 'string')
    return value
  })
}

/** A JSON object decoded into a Go struct; `null` leaves the struct at its zero value. */
export function objectOf (value: unknown, name: string): Record<string, unknown> {
  if (value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new DecodeError(`json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type ${name}`)
  }
  return value as Record<string, unknown>
}

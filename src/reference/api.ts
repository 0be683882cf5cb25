import { code, table } from './markdown.js'

// The API tables, read from the generated OpenAPI document: its operations (who may call, what they take and
// answer, which error statuses) and its named components (their fields, and who uses them).

interface Schema { $ref?: string, type?: string, properties?: Record<string, Schema>, required?: string[], items?: Schema }
interface Content { schema?: Schema }
interface Response { description: string, content?: Record<string, Content> }
interface Operation {
  operationId: string
  summary?: string
  security?: Array<Record<string, string[]>>
  requestBody?: { content: Record<string, Content> }
  responses: Record<string, Response>
}
interface SecurityScheme { type: string, in?: string, name?: string, scheme?: string }
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Schema>, securitySchemes?: Record<string, SecurityScheme> }
}

const componentName = (ref: string) => ref.replace('#/components/schemas/', '')

/** A schema as a reader needs it in a table: a component's name, an object's fields (`?` when optional), or its type. */
function shape (schema: Schema | undefined, mediaType: string): string {
  if (schema?.$ref !== undefined) return code(componentName(schema.$ref))
  if (schema?.type === 'array' && schema.items !== undefined) return `${shape(schema.items, mediaType)}[]`
  if (schema?.properties !== undefined) return fields(schema)
  return code(mediaType === 'application/json' ? schema?.type ?? 'JSON' : mediaType)
}

function fields (schema: Schema): string {
  const names = Object.keys(schema.properties ?? {}).map((name) => schema.required?.includes(name) === true ? name : `${name}?`)
  return code(`{${names.join(', ')}}`)
}

const bodyShape = (content: Record<string, Content> | undefined) =>
  Object.entries(content ?? {}).map(([mediaType, { schema }]) => shape(schema, mediaType)).join(' or ')

function callers (operation: Operation, schemes: Record<string, SecurityScheme>): string {
  if (operation.security === undefined || operation.security.length === 0) return 'anyone'
  return operation.security.flatMap((requirement) => Object.keys(requirement)).map((name) => {
    const scheme = schemes[name]
    if (scheme?.type === 'apiKey') return `an API key (${code(`${scheme.name ?? ''}`)} ${scheme.in ?? ''})`
    if (scheme?.type === 'http' && scheme.scheme === 'bearer') return `a bearer token (${code('Authorization: Bearer')})`
    return code(name)
  }).join(' or ')
}

const operations = (document: OpenApiDocument) =>
  Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ path, method, operation })))

export function operationsTable (document: OpenApiDocument): string {
  const schemes = document.components.securitySchemes ?? {}
  const rows = operations(document).map(({ path, method, operation }) => {
    const statuses = Object.entries(operation.responses)
    const answers = statuses.filter(([status]) => Number(status) < 400)
      .map(([status, response]) => `${status} ${bodyShape(response.content)}`.trim())
    const errors = statuses.filter(([status]) => Number(status) >= 400).map(([status]) => status)
    return [
      `${code(`${method.toUpperCase()} ${path}`)} (${code(operation.operationId)})`,
      operation.summary ?? '',
      callers(operation, schemes),
      bodyShape(operation.requestBody?.content),
      answers.join(', '),
      errors.join(', ')
    ]
  })
  return table(['operation', 'what it does', 'who may call', 'body', 'answers', 'errors'], rows)
}

/** Every `$ref` under a value. */
function references (value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(references)
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value)
    .flatMap(([key, inner]) => key === '$ref' && typeof inner === 'string' ? [componentName(inner)] : references(inner))
}

export function componentsTable (document: OpenApiDocument): string {
  const users = (name: string) => [
    ...operations(document).filter(({ operation }) => references(operation).includes(name)).map(({ operation }) => operation.operationId),
    ...Object.entries(document.components.schemas).filter(([, schema]) => references(schema).includes(name)).map(([other]) => other)
  ].map(code)
  const rows = Object.entries(document.components.schemas).map(([name, schema]) => [code(name), fields(schema), users(name).join(', ')])
  return table(['component', 'fields (`?`: optional)', 'used by'], rows)
}

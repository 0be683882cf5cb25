import type { TSchema } from 'typebox'
import type { Config } from '../../config/index.js'
import { ImportResponse, ImportResult, ImportUser, importRequest } from './import.js'
import { ProvisionRequest, ProvisionResponse, RevokeRequest, RevokeResponse } from './provisioning.js'
import { ErrorResponse } from './responses.js'
import { UpdateUserRequest, UserProfile } from './users.js'

// The schemas of the HTTP API, written once: they give request validation, the TypeScript types and the
// OpenAPI document. Routes import them from here.
export * from './component.js'
export * from './fields.js'
export * from './import.js'
export * from './import-row.js'
export * from './operations.js'
export * from './provisioning.js'
export * from './responses.js'
export * from './users.js'

/**
 * Every named schema (an OpenAPI component, reached through componentRef), in the order the document lists
 * them: the one list the app registers (plugins/schemas.ts). Add a new component here.
 */
export const components = (config: Config): TSchema[] => [
  ErrorResponse, ProvisionRequest, ProvisionResponse, RevokeRequest, RevokeResponse,
  UserProfile, UpdateUserRequest, ImportUser, importRequest(config.import.maxUsers), ImportResult, ImportResponse
]

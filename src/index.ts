import apiKeyPlugin from './plugin.js'

export default apiKeyPlugin
export { apiKeyPlugin }
export { createApiKeyManager } from './manager.js'
export { default as apiKeyAdmin } from './admin/plugin.js'
export type { AdminColumn, ApiKeyAdminOptions } from './admin/plugin.js'
export type { ApiKeyManager, CreateInput, ListInput, VerifyFailure, VerifyResult } from './manager.js'
export type { ApiKeyManagerOptions, ApiKeyPluginOptions, HookName } from './options.js'
export { DEFAULT_SCRYPT } from './options.js'
export type { ApiKeyRouteConfig, ApiKeyRouteOptions } from './route-config.js'
export type { ApiKeyDelegate, ApiKeyRecord } from './store.js'
export type { ApiKeyStatus } from './status.js'
export type { ScryptParams } from './hash-format.js'
export type { GetKey } from './credentials.js'
export { errors } from './errors.js'
export { keyPattern } from './key-format.js'

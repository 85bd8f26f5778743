export { validateResource, findFileReferences, resolveReference, sortIssues } from './resource.js';
export {
  validateConfigText,
  ROLES,
  LOWEST_ENVIRONMENT,
  HIGHEST_ENVIRONMENT,
  type KnockEnvConfig,
  type EnvironmentConfig,
  type EnvironmentSettings,
  type Member,
  type ApiKeyRecord,
  type Role,
} from './config.js';
export { getValidator, schemaIssues, schemaUrl, loadSchema, SCHEMAS_DIR, SCHEMA_NAMES, type SchemaName } from './schemas.js';
export { LIMITS, decodeUtf8 } from './limits.js';
export { SourcePositions, type Position } from './positions.js';
export { parseYaml, type ParsedYaml } from './yaml.js';
export type { ValidationIssue, IssueCode, SourceReader, ResourceValidation } from './types.js';

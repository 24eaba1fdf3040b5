export { compileDataset, type CompiledQuery, type CompileOptions, type IntervalOptions } from "./compiler.js";
export { Dialect } from "./dialect.js";
export {
  SqlEngine,
  tablesOf,
  fromSql,
  enforceScope,
  optOutFilters,
  checkPermissions,
  scopeFromEnvironment,
  PermissionError,
  SqlExecutionError,
  T1OO_TABLE,
  NDOO_TABLE,
  type SqlEngineOptions,
  type BackendScope,
} from "./engine.js";
export { type SqlConnection, loadTable } from "./connection.js";
export { SqliteDialect, SqliteConnection } from "./sqlite.js";
export { DuckdbDialect, DuckdbConnection } from "./duckdb.js";
export { PostgresDialect, PostgresConnection } from "./postgres.js";
export { parseDsn, scrub, DsnError, type DsnEngine, type ParsedDsn } from "./dsn.js";
export {
  RestrictedSessionError,
  type RestrictionOptions,
  type OptOutVariant,
  optOutVariant,
  openRestrictedDuckdb,
  checkSqliteSession,
  RESTRICTED_ROLE_PREFIX,
  restrictedRoleName,
  restrictedDsn,
  type PreparedRole,
  type PrepareOptions,
  prepareRestrictedRoles,
  dropRestrictedRoles,
  restrictPostgresSession,
} from "./restricted.js";

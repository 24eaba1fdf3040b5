// Restricted sessions: a database session in which any SQL at all sees only
// the patients a project's scope allows. The dataset engine adds the opt-out
// conditions to the queries it writes itself; raw SQL (the SQL runner) cannot
// be rewritten that way, so the session has to be unable to see the rest.
// Deny by default: where a session cannot be restricted, nothing runs.
//
// - DuckDB: a fresh in-memory database is filled with copies of the backend's
//   tables holding only the allowed patients; the backend is then detached, and
//   file access and every setting locked, so the file cannot be read again.
// - PostgreSQL: a login role per scope variant (which opt-outs are included)
//   that can read nothing but a schema of views over the base tables, with the
//   opt-out conditions in them. Views run with their owner's rights, so the
//   role needs none on the base tables. An operator prepares them once
//   (prepareRestrictedRoles); a session is checked before use.
// - SQLite: a query can always ATTACH the file again, so a SQLite backend is
//   usable only when the scope hides nothing.
//
// The opt-out lists themselves are never exposed: filtered by the same rules
// they would be empty (type 1 dissent without include_t1oo) or the whole
// visible population (without include_ndoo), and with the permission they
// would tell each patient's choice, which the permission lets a project
// include, not learn.

import type { SqlConnection } from "./connection.js";
import { DuckdbConnection } from "./duckdb.js";
import { type BackendScope, NDOO_TABLE, T1OO_TABLE, optOutFilters } from "./engine.js";
import { PostgresConnection, PostgresDialect } from "./postgres.js";

const INCLUDE_T1OO = "include_t1oo";
const INCLUDE_NDOO = "include_ndoo";
const OPT_OUT_TABLES = new Set([T1OO_TABLE, NDOO_TABLE]);

/** A session that cannot be restricted, or is not. */
export class RestrictedSessionError extends Error {
  override name = "RestrictedSessionError";
}

export interface RestrictionOptions {
  /** Tables that need a permission (restricted datasets), by name: left out unless the scope has it. */
  restrictedTables?: Readonly<Record<string, string>>;
}

/** Which opt-outs a scope includes: the four variants of a restricted session. */
export interface OptOutVariant {
  readonly includeT1oo: boolean;
  readonly includeNdoo: boolean;
}

export function optOutVariant(scope: BackendScope): OptOutVariant {
  return { includeT1oo: scope.permissions.includes(INCLUDE_T1OO), includeNdoo: scope.permissions.includes(INCLUDE_NDOO) };
}

const VARIANTS: readonly OptOutVariant[] = [
  { includeT1oo: false, includeNdoo: false },
  { includeT1oo: true, includeNdoo: false },
  { includeT1oo: false, includeNdoo: true },
  { includeT1oo: true, includeNdoo: true },
];

function scopeOf(v: OptOutVariant): BackendScope {
  return { permissions: [...(v.includeT1oo ? [INCLUDE_T1OO] : []), ...(v.includeNdoo ? [INCLUDE_NDOO] : [])] };
}

/** The opt-out lists the scope needs to filter by. */
function listsNeeded(scope: BackendScope): string[] {
  const v = optOutVariant(scope);
  return [...(v.includeT1oo ? [] : [T1OO_TABLE]), ...(v.includeNdoo ? [] : [NDOO_TABLE])];
}

function missingList(table: string, where: string): RestrictedSessionError {
  return new RestrictedSessionError(`the ${where} has no ${table} table, so opt-outs cannot be applied; refusing to run (the table must exist, even if empty)`);
}

/** Whether a table is left out of the session: an opt-out list, or a restricted dataset the scope lacks. */
function hidden(table: string, scope: BackendScope, options: RestrictionOptions): boolean {
  const needs = options.restrictedTables?.[table];
  return OPT_OUT_TABLES.has(table) || (needs !== undefined && !scope.permissions.includes(needs));
}

async function rows(conn: SqlConnection, sql: string): Promise<unknown[][]> {
  const out: unknown[][] = [];
  for await (const batch of conn.query(sql)) out.push(...batch);
  return out;
}

// ---------------------------------------------------------------------------
// DuckDB

const BACKEND = "enclave_backend";

/**
 * A fresh in-memory DuckDB session holding the backend file's tables, each
 * with only the scope's patients; the file itself is out of its reach.
 * Given the query to be run, only the tables it names are copied (as DuckDB's
 * own parser finds them; every table when it cannot tell): that saves time and
 * memory only, since every table copied is filtered alike.
 */
export async function openRestrictedDuckdb(file: string, scope: BackendScope, options: RestrictionOptions & { query?: string } = {}): Promise<SqlConnection> {
  const conn = await DuckdbConnection.open();
  try {
    const d = conn.dialect;
    const named = options.query === undefined ? undefined : await tablesNamed(conn, options.query);
    await conn.exec(`ATTACH ${d.stringLiteral(file)} AS ${BACKEND} (READ_ONLY)`);
    const tables = await rows(conn, `SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = '${BACKEND}' ORDER BY schema_name, table_name`);
    const withPatients = new Set(
      (await rows(conn, `SELECT schema_name, table_name FROM duckdb_columns() WHERE database_name = '${BACKEND}' AND column_name = 'patient_id'`)).map(([s, t]) => `${String(s)}.${String(t)}`),
    );
    const present = new Set(tables.filter(([s]) => s === "main").map(([, t]) => String(t)));
    for (const list of listsNeeded(scope)) if (!present.has(list)) throw missingList(list, "backend");

    // The opt-out conditions name the lists unqualified: they resolve in the backend's main schema.
    await conn.exec(`USE ${BACKEND}`);
    const filters = optOutFilters(d, scope);
    for (const [s, t] of tables.map(([s, t]) => [String(s), String(t)] as const)) {
      if (hidden(t, scope, options) || (named !== undefined && !named.has(t.toLowerCase()))) continue;
      const where = withPatients.has(`${s}.${t}`) && filters.length > 0 ? ` WHERE ${filters.join(" AND ")}` : "";
      await conn.exec(`CREATE SCHEMA IF NOT EXISTS memory.${d.quote(s)}`);
      await conn.exec(`CREATE TABLE memory.${d.quote(s)}.${d.quote(t)} AS SELECT * FROM ${BACKEND}.${d.quote(s)}.${d.quote(t)} AS u${where}`);
    }
    await conn.exec("USE memory");
    await conn.exec(`DETACH ${BACKEND}`);
    // No files (so no ATTACH of the backend again, no read_csv, no COPY), and no setting can be changed back.
    await conn.exec("SET enable_external_access = false");
    await conn.exec("SET lock_configuration = true");
    const [state] = await rows(
      conn,
      `SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), (SELECT count(*) FROM duckdb_databases() WHERE database_name = '${BACKEND}')`,
    );
    if (!state || state[0] !== false || state[1] !== true || Number(state[2]) !== 0) {
      throw new RestrictedSessionError("DuckDB did not lock the session (enable_external_access, lock_configuration); refusing to run");
    }
    return conn;
  } catch (e) {
    await conn.close();
    throw e;
  }
}

/** The (lower-case) names of the tables a DuckDB query reads; undefined when DuckDB cannot tell (a statement other than a SELECT among them, say). */
async function tablesNamed(conn: SqlConnection, sql: string): Promise<Set<string> | undefined> {
  let tree: unknown;
  try {
    const [[json]] = (await rows(conn, `SELECT json_serialize_sql(${conn.dialect.stringLiteral(sql)})`)) as [[string]];
    tree = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof tree !== "object" || tree === null || (tree as { error?: unknown }).error !== false) return undefined;
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === "object" && node !== null) {
      const n = node as Record<string, unknown>;
      if (n.type === "BASE_TABLE" && typeof n.table_name === "string") names.add(n.table_name.toLowerCase());
      Object.values(n).forEach(walk);
    }
  };
  walk(tree);
  return names;
}

// ---------------------------------------------------------------------------
// SQLite

/** Refuses a SQLite session when the scope would hide anything in it: SQLite cannot restrict one. */
export async function checkSqliteSession(conn: SqlConnection, scope: BackendScope, options: RestrictionOptions = {}): Promise<void> {
  const v = optOutVariant(scope);
  const hides = [
    ...(v.includeT1oo ? [] : ["patients with a type 1 opt-out (the project has no include_t1oo)"]),
    ...(v.includeNdoo ? [] : ["patients with a national data opt-out (the project has no include_ndoo)"]),
  ];
  for (const [table, permission] of Object.entries(options.restrictedTables ?? {})) {
    if (!scope.permissions.includes(permission) && (await conn.tableExists(table))) hides.push(`table ${table} (the project has no ${permission})`);
  }
  if (hides.length > 0) {
    throw new RestrictedSessionError(
      `a SQLite database cannot be restricted (any query can open the file again), and this project's scope must not see ${hides.join(", ")}; refusing to run: use a DuckDB or PostgreSQL backend`,
    );
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL

/** The role (and schema) names start with this unless the operator chose another prefix. */
export const RESTRICTED_ROLE_PREFIX = "enclave_sqlrunner";

// Written on each schema (and role) that prepareRestrictedRoles makes: only
// the schema's owner can write it, so a session's schema with this label was
// made by the operator for that variant.
const MARKER = "enclave restricted session: ";

function marker(v: OptOutVariant): string {
  return `${MARKER}${JSON.stringify({ include_t1oo: v.includeT1oo, include_ndoo: v.includeNdoo })}`;
}

function checkPrefix(prefix: string): void {
  if (!/^[a-z_][a-z0-9_]{0,39}$/.test(prefix)) {
    throw new RestrictedSessionError(`the prefix ${JSON.stringify(prefix)} is not a plain lower-case name (letters, digits, _; at most 40): role and schema names are made from it`);
  }
}

/** The role (and its schema) for a scope: the prefix, then `_t1oo` and `_ndoo` for what it includes. */
export function restrictedRoleName(scope: BackendScope, prefix = RESTRICTED_ROLE_PREFIX): string {
  checkPrefix(prefix);
  const v = optOutVariant(scope);
  return `${prefix}${v.includeT1oo ? "_t1oo" : ""}${v.includeNdoo ? "_ndoo" : ""}`;
}

/** A PostgreSQL DSN with its user name replaced by the restricted role for the scope (the password and the rest kept). */
export function restrictedDsn(baseDsn: string, scope: BackendScope, prefix = RESTRICTED_ROLE_PREFIX): string {
  let url: URL;
  try {
    url = new URL(baseDsn);
  } catch {
    throw new RestrictedSessionError("the PostgreSQL DSN for restricted sessions is not a URL (the DSN itself is not shown: it may hold a password)");
  }
  if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
    throw new RestrictedSessionError("restricted sessions by role are for PostgreSQL: the DSN must start with postgresql:// or postgres://");
  }
  url.username = restrictedRoleName(scope, prefix);
  return url.href;
}

export interface PreparedRole {
  /** The login role, which is also the name of its schema of views. */
  readonly role: string;
  readonly variant: OptOutVariant;
  /** The views in its schema, one per base table it may read. */
  readonly tables: readonly string[];
}

export interface PrepareOptions extends RestrictionOptions {
  /** The password of the login roles (one for all four: whoever holds one DSN is given all of them). */
  password: string;
  prefix?: string;
  /** The schema of the base tables (default public). */
  schema?: string;
}

/**
 * Makes (or remakes) the four restricted roles and their schemas of views over
 * the base tables, in one transaction. Run as a role that may create roles and
 * read the base tables; views are bound to the tables as they are now, so run
 * it again when tables are added or change.
 */
export async function prepareRestrictedRoles(adminDsn: string, options: PrepareOptions): Promise<PreparedRole[]> {
  const prefix = options.prefix ?? RESTRICTED_ROLE_PREFIX;
  const base = options.schema ?? "public";
  checkPrefix(prefix);
  if (options.password === "") throw new RestrictedSessionError("the restricted roles need a password: it is empty");
  const conn = await PostgresConnection.open(adminDsn);
  const d = conn.dialect;
  try {
    const [admin] = await rows(conn, "SELECT current_user, rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user");
    if (admin?.[1] !== true) throw new RestrictedSessionError(`the role ${String(admin?.[0])} may not create roles: connect as a role with CREATEROLE (or a superuser)`);

    const tables = await rows(
      conn,
      `SELECT c.relname,
              EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'patient_id' AND a.attnum > 0 AND NOT a.attisdropped),
              has_table_privilege(c.oid, 'SELECT')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${d.stringLiteral(base)} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY c.relname`,
    );
    const names = new Set(tables.map(([t]) => String(t)));
    for (const list of [T1OO_TABLE, NDOO_TABLE]) if (!names.has(list)) throw missingList(list, `schema ${base}`);
    const unreadable = tables.filter(([, , readable]) => readable !== true).map(([t]) => String(t));
    if (unreadable.length > 0) throw new RestrictedSessionError(`the role ${String(admin[0])} cannot read ${unreadable.join(", ")} in schema ${base}, so views over them would fail: run as their owner`);

    const roles = VARIANTS.map((variant) => ({ variant, role: restrictedRoleName(scopeOf(variant), prefix) }));
    if (roles.some((r) => r.role === base)) throw new RestrictedSessionError(`the prefix ${prefix} would name a restricted schema after the base schema ${base}; choose another`);
    await refuseForeign(conn, roles.map((r) => r.role));
    // Read before the transaction: a query here runs in a transaction of its own.
    const existing = new Set((await rows(conn, `SELECT rolname FROM pg_roles WHERE rolname IN (${roles.map((r) => d.stringLiteral(r.role)).join(", ")})`)).map(([n]) => String(n)));

    const prepared: PreparedRole[] = [];
    await conn.exec("BEGIN");
    try {
      // The opt-out conditions name the lists unqualified; views are bound to what they name now.
      await conn.exec(`SET LOCAL search_path TO ${d.quote(base)}, pg_temp`);
      for (const { variant, role } of roles) {
        const scope = scopeOf(variant);
        const r = d.quote(role);
        await conn.exec(`DROP SCHEMA IF EXISTS ${r} CASCADE`);
        const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS PASSWORD ${d.stringLiteral(options.password)}`;
        await conn.exec(existing.has(role) ? `ALTER ROLE ${r} WITH ${attributes}` : `CREATE ROLE ${r} WITH ${attributes}`);
        await conn.exec(`COMMENT ON ROLE ${r} IS ${d.stringLiteral(marker(variant))}`);
        await conn.exec(`CREATE SCHEMA ${r}`);
        await conn.exec(`COMMENT ON SCHEMA ${r} IS ${d.stringLiteral(marker(variant))}`);
        await conn.exec(`GRANT USAGE ON SCHEMA ${r} TO ${r}`);
        const filters = optOutFilters(d, scope);
        const shown: string[] = [];
        for (const [t, withPatients] of tables) {
          const table = String(t);
          if (hidden(table, scope, options)) continue;
          const where = withPatients === true && filters.length > 0 ? ` WHERE ${filters.join(" AND ")}` : "";
          // security_barrier: the view's conditions are applied before any
          // function of the query, so a function that raises or records its
          // arguments never sees a row the view leaves out.
          await conn.exec(`CREATE VIEW ${r}.${d.quote(table)} WITH (security_barrier = true) AS SELECT * FROM ${d.quote(base)}.${d.quote(table)} AS u${where}`);
          shown.push(table);
        }
        await conn.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA ${r} TO ${r}`);
        prepared.push({ role, variant, tables: shown });
      }
      await conn.exec("COMMIT");
    } catch (e) {
      await conn.exec("ROLLBACK").catch(() => undefined);
      throw e;
    }
    return prepared;
  } finally {
    await conn.close();
  }
}

/** Drops the restricted roles and schemas made with the prefix (and nothing else of those names). */
export async function dropRestrictedRoles(adminDsn: string, options: { prefix?: string } = {}): Promise<void> {
  const prefix = options.prefix ?? RESTRICTED_ROLE_PREFIX;
  const names = VARIANTS.map((v) => restrictedRoleName(scopeOf(v), prefix));
  const conn = await PostgresConnection.open(adminDsn);
  const d = conn.dialect;
  try {
    await refuseForeign(conn, names);
    for (const name of names) {
      await conn.exec(`DROP SCHEMA IF EXISTS ${d.quote(name)} CASCADE`);
      await conn.exec(`DROP ROLE IF EXISTS ${d.quote(name)}`);
    }
  } finally {
    await conn.close();
  }
}

/** Refuses when a role or schema of one of the names exists but was not made here: it is someone else's. */
async function refuseForeign(conn: SqlConnection, names: readonly string[]): Promise<void> {
  const list = names.map((n) => conn.dialect.stringLiteral(n)).join(", ");
  const foreign = await rows(
    conn,
    `SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname IN (${list}) AND coalesce(obj_description(oid, 'pg_namespace'), '') NOT LIKE '${MARKER}%'
     UNION ALL
     SELECT 'role ' || rolname FROM pg_roles WHERE rolname IN (${list}) AND coalesce(shobj_description(oid, 'pg_authid'), '') NOT LIKE '${MARKER}%'`,
  );
  if (foreign.length > 0) {
    throw new RestrictedSessionError(`${foreign.map(([w]) => String(w)).join(", ")} already exists and was not made for restricted sessions; refusing to replace it: choose another prefix`);
  }
}

/**
 * Checks that a PostgreSQL session is the restricted role for the scope (its
 * session and current user, no superuser, a member of no role, able to read
 * nothing outside its own schema, whose views were prepared for this scope),
 * then puts that schema on the search path. Refuses otherwise, naming the
 * role to connect as.
 */
export async function restrictPostgresSession(conn: SqlConnection, scope: BackendScope): Promise<void> {
  if (!(conn.dialect instanceof PostgresDialect)) throw new RestrictedSessionError(`restrictPostgresSession needs a PostgreSQL session, not ${conn.dialect.name}`);
  const d = conn.dialect;
  const wanted = marker(optOutVariant(scope));
  const [who] = await rows(
    conn,
    `SELECT current_user, session_user, r.rolsuper, r.rolbypassrls,
            (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid),
            n.oid IS NOT NULL, obj_description(n.oid, 'pg_namespace'), n.nspowner = r.oid,
            CASE WHEN n.oid IS NULL THEN false ELSE has_schema_privilege(n.oid, 'CREATE') END
       FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = r.rolname
      WHERE r.rolname = current_user`,
  );
  if (!who) throw new RestrictedSessionError("cannot tell which role this PostgreSQL session is (current_user is not in pg_roles); refusing to run");
  const [user, sessionUser, superuser, bypassRls, memberships, hasSchema, label, ownsSchema, mayCreate] = who;
  const why: string[] = [];
  if (user !== sessionUser) why.push(`it has switched role from ${String(sessionUser)}, which it could switch back to`);
  if (superuser === true) why.push("it is a superuser");
  if (bypassRls === true) why.push("it bypasses row-level security");
  if (Number(memberships) > 0) why.push("it is a member of other roles, whose rights it may use");
  if (hasSchema !== true) why.push(`it has no schema of views of its own (${String(user)})`);
  else if (label !== wanted) why.push(typeof label === "string" && label.startsWith(MARKER) ? "its schema was prepared for a different scope" : "its schema was not prepared for restricted sessions");
  if (ownsSchema === true || mayCreate === true) why.push("it may change its own schema");
  if (why.length === 0) {
    // The views must be all it can read; one grant to it (or to PUBLIC) on a base table would undo them.
    const readable = await rows(
      conn,
      `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname <> current_user
          AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast%' AND has_any_column_privilege(c.oid, 'SELECT')
        ORDER BY 1 LIMIT 3`,
    );
    if (readable.length > 0) why.push(`it can read ${readable.map(([t]) => String(t)).join(", ")} directly`);
  }
  if (why.length > 0) {
    const roles = (await rows(conn, `SELECT nspname FROM pg_namespace WHERE obj_description(oid, 'pg_namespace') = ${d.stringLiteral(wanted)} ORDER BY 1`)).map(([n]) => String(n));
    const role = roles.length > 0 ? roles.join(" or ") : `${restrictedRoleName(scope)} (none is prepared in this database: run \`enclave admin prepare-sqlrunner\`)`;
    throw new RestrictedSessionError(`the database session for sqlrunner is not restricted: connect as ${role}; the session's role ${String(user)} will not do: ${why.join("; ")}`);
  }
  await conn.exec(`SET search_path TO ${d.quote(String(user))}`);
}

// sqlrunner:v1: a SQL file run against the database, its rows written as CSV.
// It is a database action: in the backend the platform gives it the database in
// DATABASE_URL (sqlite://, duckdb:// or postgresql://, as generate-dataset takes
// it) and the project's scope in ENCLAVE_PERMISSIONS. On a researcher's machine
// there is no database; `--dummy-tables DIR` runs the query over the table files
// in DIR instead (`<table>.csv`, `.csv.gz` or `.parquet`, each a view of that
// name in an in-memory DuckDB), and is ignored where DATABASE_URL is set, so
// that one project.yaml serves both.
//
// The query never sees a patient the scope leaves out, and the SQL is not
// inspected for that: it runs in a session that cannot see them (see
// engines/sql/restricted.ts). DuckDB: an in-memory copy of the allowed rows,
// with the file out of reach. PostgreSQL: DATABASE_URL must connect as the
// restricted role for the scope, which is checked. SQLite cannot be
// restricted, so it is refused unless the scope hides nothing.
//
// The file holds one query (SELECT or WITH ...; a trailing semicolon is fine).
// It runs as the body of a temporary view, which gives the output its column
// names on every database and keeps the session free of anything else.
//
// This runs in its own process (sqlrunner-main.ts), in the action's sandbox and
// under its limits, like every other action: a query that runs away is killed
// with it rather than blocking the runner.

import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { once } from "node:events";
import {
  DsnError,
  DuckdbConnection,
  PostgresConnection,
  PermissionError,
  RestrictedSessionError,
  type BackendScope,
  type ParsedDsn,
  type SqlConnection,
  checkSqliteSession,
  openRestrictedDuckdb,
  parseDsn,
  restrictPostgresSession,
  restrictedDsn,
  scopeFromEnvironment,
  scrub,
} from "../engines/sql/index.js";
import { csvLine } from "../engines/files/index.js";
import { tppTables } from "../language/tables/tpp.js";

/** Something wrong with the query, its files or the database: exit code 1. */
class SqlrunnerError extends Error {
  override name = "SqlrunnerError";
}

/** The command line itself is wrong: exit code 2, with the usage. */
class SqlrunnerUsageError extends SqlrunnerError {
  override name = "SqlrunnerUsageError";
}

const VIEW = "enclave_sqlrunner";
const TABLE_FILE = /^([A-Za-z_][A-Za-z0-9_]*)\.(csv|csv\.gz|parquet)$/;

const USAGE = "usage: sqlrunner:v1 QUERY.sql --output FILE.csv [--dummy-tables DIR]";

/** Runs the command line (without `node sqlrunner-main.js`); returns the exit code: 0 done, 1 an error, 2 a wrong command line. */
export async function runSqlrunner(argv: readonly string[], env: NodeJS.ProcessEnv, stderr: (text: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  const dsn = env.DATABASE_URL || undefined;
  try {
    await sqlrunner(argv, dsn, env);
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    stderr(`error: ${dsn === undefined ? message : scrub(message, dsn)}\n`);
    if (e instanceof SqlrunnerUsageError) {
      stderr(`${USAGE}\n`);
      return 2;
    }
    return 1;
  }
}

async function sqlrunner(argv: readonly string[], dsn: string | undefined, env: NodeJS.ProcessEnv): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { output: { type: "string" }, "dummy-tables": { type: "string" } } });
  } catch (e) {
    throw new SqlrunnerUsageError((e as Error).message);
  }
  const [queryFile, ...extra] = parsed.positionals;
  const output = parsed.values.output;
  const dummyTables = parsed.values["dummy-tables"];
  if (queryFile === undefined) throw new SqlrunnerUsageError("give the SQL file to run");
  if (extra.length > 0) throw new SqlrunnerUsageError(`one SQL file only (also given: ${extra.join(" ")})`);
  if (output === undefined) throw new SqlrunnerUsageError("--output is required: the CSV file to write");
  if (!output.endsWith(".csv")) throw new SqlrunnerUsageError(`--output ${output}: sqlrunner writes CSV, so the file must end in .csv`);

  let sql: string;
  try {
    sql = fs.readFileSync(queryFile, "utf8");
  } catch {
    throw new SqlrunnerError(`${queryFile}: no such file`);
  }
  // A trailing semicolon would end the view's body early.
  sql = sql.replace(/[\s;]+$/, "");
  if (sql.trim() === "") throw new SqlrunnerError(`${queryFile} holds no query`);

  const conn = await open(dsn, dummyTables, env, sql);
  try {
    try {
      // On PostgreSQL the one-statement protocol: a second statement after the query would run as the restricted role (to change its password, say).
      const create = `CREATE TEMP VIEW ${VIEW} AS ${sql}`;
      await (conn instanceof PostgresConnection ? conn.execOne(create) : conn.exec(create));
    } catch (e) {
      throw new SqlrunnerError(`${queryFile}: the database refused the query: ${(e as Error).message}`);
    }
    const columns = await columnNames(conn);
    fs.mkdirSync(path.dirname(path.resolve(output)), { recursive: true });
    const out = fs.createWriteStream(output);
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, "drain");
    };
    try {
      await write(csvLine(columns));
      for await (const batch of conn.query(`SELECT * FROM ${VIEW}`)) {
        await write(batch.map((row) => csvLine(row.map(cell))).join(""));
      }
    } catch (e) {
      throw new SqlrunnerError(`${queryFile}: the query failed: ${(e as Error).message}`);
    } finally {
      out.end();
      await once(out, "close");
    }
  } finally {
    await conn.close();
  }
}

async function open(dsn: string | undefined, dummyTables: string | undefined, env: NodeJS.ProcessEnv, sql: string): Promise<SqlConnection> {
  if (dsn !== undefined) return openBackend(dsn, env, sql);
  if (dummyTables === undefined) {
    throw new SqlrunnerError(
      "sqlrunner runs against the backend's database, and there is none here (no DATABASE_URL); to try the query on your machine, add --dummy-tables DIR with a <table>.csv (or .csv.gz, .parquet) per table it reads",
    );
  }
  let files: string[];
  try {
    files = fs.readdirSync(dummyTables).sort();
  } catch {
    throw new SqlrunnerError(`--dummy-tables ${dummyTables}: no such folder`);
  }
  const conn = await DuckdbConnection.open();
  try {
    const d = conn.dialect;
    for (const f of files) {
      const m = TABLE_FILE.exec(f);
      if (!m) continue;
      const file = d.stringLiteral(path.resolve(dummyTables, f));
      const reader = m[2] === "parquet" ? `read_parquet(${file})` : `read_csv_auto(${file}, header = true)`;
      await conn.exec(`CREATE VIEW ${d.quote(m[1]!)} AS SELECT * FROM ${reader}`);
    }
  } catch (e) {
    await conn.close();
    throw new SqlrunnerError(`--dummy-tables ${dummyTables}: ${(e as Error).message}`);
  }
  return conn;
}

// Restricted datasets: a table that needs a permission is left out of the session without it.
const RESTRICTED_TABLES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(tppTables).flatMap((t) => (t.requiredPermission ? [[t.name, t.requiredPermission]] : [])),
);

/** The backend in a session restricted to the scope's patients; refuses where it cannot be. */
async function openBackend(dsn: string, env: NodeJS.ProcessEnv, sql: string): Promise<SqlConnection> {
  let scope: BackendScope;
  try {
    scope = scopeFromEnvironment(env);
  } catch (e) {
    if (e instanceof PermissionError) throw new SqlrunnerError(e.message);
    throw e;
  }
  let db: ParsedDsn;
  try {
    db = parseDsn(dsn);
  } catch (e) {
    // The platform sets DATABASE_URL, not the command line: never a usage error.
    if (e instanceof DsnError) throw new SqlrunnerError(`DATABASE_URL: ${e.message}`);
    throw e;
  }
  const options = { restrictedTables: RESTRICTED_TABLES };
  try {
    if (db.engine === "duckdb") return await openRestrictedDuckdb(db.file!, scope, { ...options, query: sql });
    const conn = await db.connect(true);
    try {
      if (db.engine === "sqlite") await checkSqliteSession(conn, scope, options);
      else await restrictPostgresSession(conn, scope);
    } catch (e) {
      await conn.close();
      throw e;
    }
    return conn;
  } catch (e) {
    if (e instanceof RestrictedSessionError || e instanceof DsnError) throw new SqlrunnerError(e.message);
    throw new SqlrunnerError(`could not open a restricted session on the ${db.where}: ${(e as Error).message}`);
  }
}

async function columnNames(conn: SqlConnection): Promise<string[]> {
  const sql =
    conn.dialect.name === "sqlite"
      ? `SELECT name FROM pragma_table_info('${VIEW}') ORDER BY cid`
      : conn.dialect.name === "postgres"
        ? `SELECT attname FROM pg_attribute WHERE attrelid = '${VIEW}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`
        : `SELECT column_name FROM information_schema.columns WHERE table_name = '${VIEW}' ORDER BY ordinal_position`;
  const names: string[] = [];
  for await (const batch of conn.query(sql)) for (const row of batch) names.push(String(row[0]));
  return names;
}

/** A value from any of the drivers as a cell's text: NULL empty, booleans T/F as in Enclave's datasets. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "T" : "F";
  if (v instanceof Date) {
    const iso = v.toISOString();
    return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso;
  }
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (typeof v === "object" && v.toString === Object.prototype.toString) return JSON.stringify(v);
  // Numbers, bigints, strings, and DuckDB's value classes (decimals, timestamps), which print as SQL does.
  return String(v);
}

/**
 * The DATABASE_URL to give a sqlrunner action, for the agent. DuckDB and
 * SQLite: the backend's own DSN (the runner restricts its session itself).
 * PostgreSQL: `restricted`, the DSN of the role for scope [] as
 * `enclave admin prepare-sqlrunner` prints it, with its user name changed to
 * the role for this scope (the four roles share the password). Without it the
 * backend's DSN is passed on, and the runner refuses it: it is not restricted.
 */
export function sqlrunnerDatabaseUrl(database: string, scope: BackendScope, restricted?: string): string {
  if (!/^postgres(ql)?:\/\//i.test(database) || restricted === undefined) return database;
  return restrictedDsn(restricted, scope, decodeURIComponent(new URL(restricted).username));
}

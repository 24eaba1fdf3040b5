// The job server's and the airlock's databases behind one small async
// interface: an embedded SQLite file by default, PostgreSQL given a
// postgres:// URL. The same SQL serves both, written with `?` placeholders that
// become $1, $2, ... for PostgreSQL; one connection serves one transaction at a
// time, and migrations are applied once each under the write lock.
//
// It lives here, not lower, because the job server is the lowest part that
// keeps state this way; the airlock imports it (never the reverse).

import { createRequire } from "node:module";
import * as path from "node:path";
import { withoutPassword } from "../audit/index.js";
import type BetterSqlite3 from "better-sqlite3";
import type pgTypes from "pg";

// Loaded on first use: every `enclave` command would otherwise pay for loading the drivers.
const require = createRequire(import.meta.url);
let sqliteLoaded: typeof BetterSqlite3 | undefined;
let pgLoaded: typeof pgTypes | undefined;
const sqliteApi = (): typeof BetterSqlite3 => (sqliteLoaded ??= require("better-sqlite3") as typeof BetterSqlite3);
const pgApi = (): typeof pgTypes => (pgLoaded ??= require("pg") as typeof pgTypes);

export type Param = string | number | null;
export type Row = Record<string, unknown>;

export interface Db {
  readonly dialect: "sqlite" | "postgres";
  /** The SQLite file, so that what belongs beside it can be put there; undefined for PostgreSQL and :memory:. */
  readonly file?: string;
  all(sql: string, params?: readonly Param[]): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  /** Runs fn in a transaction; `lock` takes the write lock first (SQLite BEGIN IMMEDIATE, a PostgreSQL advisory lock). */
  transaction<T>(fn: () => Promise<T>, lock?: boolean): Promise<T>;
  close(): Promise<void>;
}

const SQLITE_BUSY_MS = 30_000;

class SqliteDb implements Db {
  readonly dialect = "sqlite";
  constructor(
    private readonly db: BetterSqlite3.Database,
    readonly file: string | undefined,
  ) {}
  async all(sql: string, params: readonly Param[] = []): Promise<Row[]> {
    const stmt = this.db.prepare(sql);
    return stmt.reader ? (stmt.all(...params) as Row[]) : (stmt.run(...params), []);
  }
  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  async transaction<T>(fn: () => Promise<T>, lock = false): Promise<T> {
    if (lock) await this.beginImmediate();
    else this.db.exec("BEGIN");
    try {
      const result = await fn();
      this.db.exec("COMMIT");
      return result;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
  }
  async close(): Promise<void> {
    this.db.close();
  }

  // better-sqlite3 waits for a locked database synchronously, which would also
  // keep whatever holds the lock from finishing when that is another connection
  // of this process (several stores on one file). So the lock is tried without
  // waiting, and waited for here, with the event loop free.
  private async beginImmediate(): Promise<void> {
    const deadline = Date.now() + SQLITE_BUSY_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      this.db.pragma("busy_timeout = 0");
      try {
        this.db.exec("BEGIN IMMEDIATE");
        return;
      } catch (e) {
        if ((e as { code?: unknown }).code !== "SQLITE_BUSY" || Date.now() > deadline) throw e;
      } finally {
        this.db.pragma(`busy_timeout = ${SQLITE_BUSY_MS}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random())));
    }
  }
}

class PostgresDb implements Db {
  readonly dialect = "postgres";
  constructor(
    private readonly client: pgTypes.Client,
    private readonly lockName: string,
  ) {}
  async all(sql: string, params: readonly Param[] = []): Promise<Row[]> {
    let n = 0;
    return (await this.client.query(sql.replace(/\?/g, () => `$${++n}`), params as Param[])).rows as Row[];
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  async transaction<T>(fn: () => Promise<T>, lock = false): Promise<T> {
    await this.client.query("BEGIN");
    try {
      if (lock) await this.client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [this.lockName]);
      const result = await fn();
      await this.client.query("COMMIT");
      return result;
    } catch (e) {
      await this.client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }
  async close(): Promise<void> {
    await this.client.end();
  }
}

export interface DbOptions {
  /** PostgreSQL: the schema to use (created if missing); default the search_path. */
  schema?: string;
  /** PostgreSQL: the advisory lock that write transactions take, one per service. */
  lockName: string;
  /** The error for a `sqlite://` target without a file: each service names its own store and example path. */
  noFile: () => Error;
  /** The error for a SQLite file that cannot be opened (its folder missing, say), from the reason. */
  cannotOpen: (why: string) => Error;
}

/** Opens a SQLite path (`sqlite://path` or a plain path, `:memory:` included) or a postgres(ql):// URL. */
export async function openDb(target: string, options: DbOptions): Promise<Db> {
  if (/^postgres(ql)?:\/\//i.test(target)) {
    const client = new (pgApi().Client)({ connectionString: target });
    try {
      await client.connect();
    } catch (e) {
      throw options.cannotOpen(`cannot connect to ${withoutPassword(target)}: ${(e as Error).message}`);
    }
    try {
      if (options.schema) {
        const quoted = `"${options.schema.replace(/"/g, '""')}"`;
        // IF NOT EXISTS is not safe to race (two processes starting at once): the write lock makes it so.
        await client.query("BEGIN");
        await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [options.lockName]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
        await client.query("COMMIT");
        await client.query(`SET search_path TO ${quoted}`);
      }
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    return new PostgresDb(client, options.lockName);
  }
  const file = target.startsWith("sqlite://") ? target.slice("sqlite://".length) : target;
  if (file === "") throw options.noFile();
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new (sqliteApi())(file, { timeout: SQLITE_BUSY_MS });
  } catch (e) {
    throw options.cannotOpen(sqliteOpenProblem(file, e));
  }
  if (file !== ":memory:") sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  return new SqliteDb(sqlite, file === ":memory:" ? undefined : file);
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The SQL of a migration for a dialect: `{pk}` is the only difference between the two. */
export function migrationSql(m: Migration, dialect: "sqlite" | "postgres"): string {
  return m.sql.replaceAll("{pk}", dialect === "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "SERIAL PRIMARY KEY");
}

/** Applies the migrations not yet recorded in `table`, each in its own locked transaction; returns their versions. */
export async function migrate(db: Db, migrations: readonly Migration[], table: string): Promise<number[]> {
  await db.transaction(() => db.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)`), true);
  const applied: number[] = [];
  for (const m of migrations) {
    // Checked again under the lock: another process may have applied it meanwhile.
    const done = await db.transaction(async () => {
      if ((await db.all(`SELECT 1 AS x FROM ${table} WHERE version = ?`, [m.version])).length > 0) return true;
      await db.exec(migrationSql(m, db.dialect));
      await db.all(`INSERT INTO ${table} (version, name, applied) VALUES (?, ?, ?)`, [m.version, m.name, new Date().toISOString()]);
      return false;
    }, true);
    if (!done) applied.push(m.version);
  }
  return applied;
}

/** One condition of a list query: its SQL with a `?` for each value after it; false or undefined for a filter not given. */
export type Condition = readonly [clause: string, ...values: Param[]] | false | undefined;

/** The WHERE clause (without the word) of the conditions given, ANDed, and their values in order; "1 = 1" when none is. */
export function whereOf(conditions: readonly Condition[]): { where: string; params: Param[] } {
  const given = conditions.filter((c): c is readonly [string, ...Param[]] => Array.isArray(c));
  return { where: given.length > 0 ? given.map(([clause]) => clause).join(" AND ") : "1 = 1", params: given.flatMap(([, ...values]) => values) };
}

/** Opens the database and applies its migrations (see migrate); closes it again if they fail. */
export async function openMigrated(target: string, options: DbOptions, migrations: readonly Migration[], table: string): Promise<{ db: Db; applied: number[] }> {
  const db = await openDb(target, options);
  try {
    return { db, applied: await migrate(db, migrations, table) };
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
}

export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "23505";
}

/** Why better-sqlite3 could not open `file`, in words that say what to do. */
export function sqliteOpenProblem(file: string, e: unknown): string {
  const message = (e as Error).message ?? String(e);
  if (/directory does not exist/i.test(message)) return `cannot open ${file}: the folder ${path.dirname(path.resolve(file))} does not exist (create it first)`;
  if ((e as { code?: unknown }).code === "SQLITE_CANTOPEN") return `cannot open ${file}: it cannot be created or opened there (check the folder's permissions)`;
  return `cannot open ${file}: ${message}`;
}

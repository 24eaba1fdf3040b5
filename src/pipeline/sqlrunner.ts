// sqlrunner:v1: a SQL file run against the database, its rows written as CSV.
// It is a database action: in the backend the platform gives it the database in
// DATABASE_URL (sqlite://, duckdb:// or postgresql://, as generate-dataset takes
// it). On a researcher's machine there is no database; `--dummy-tables DIR`
// runs the query over the table files in DIR instead (`<table>.csv`, `.csv.gz`
// or `.parquet`, each a view of that name in an in-memory DuckDB), and is
// ignored where DATABASE_URL is set, so that one project.yaml serves both.
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
import { DuckdbConnection, type SqlConnection } from "../engines/sql/index.js";
import { csvLine } from "../engines/files/index.js";
import { parseDsn, scrub } from "../cli/data-source.js";
import { UsageError, UserError } from "../cli/errors.js";

const VIEW = "enclave_sqlrunner";
const TABLE_FILE = /^([A-Za-z_][A-Za-z0-9_]*)\.(csv|csv\.gz|parquet)$/;

const USAGE = "usage: sqlrunner:v1 QUERY.sql --output FILE.csv [--dummy-tables DIR]";

/** Runs the command line (without `node sqlrunner-main.js`); returns the exit code: 0 done, 1 an error, 2 a wrong command line. */
export async function runSqlrunner(argv: readonly string[], env: NodeJS.ProcessEnv, stderr: (text: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  const dsn = env.DATABASE_URL || undefined;
  try {
    await sqlrunner(argv, dsn);
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    stderr(`error: ${dsn === undefined ? message : scrub(message, dsn)}\n`);
    if (e instanceof UsageError) {
      stderr(`${USAGE}\n`);
      return 2;
    }
    return 1;
  }
}

async function sqlrunner(argv: readonly string[], dsn: string | undefined): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: { output: { type: "string" }, "dummy-tables": { type: "string" } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const [queryFile, ...extra] = parsed.positionals;
  const output = parsed.values.output;
  const dummyTables = parsed.values["dummy-tables"];
  if (queryFile === undefined) throw new UsageError("give the SQL file to run");
  if (extra.length > 0) throw new UsageError(`one SQL file only (also given: ${extra.join(" ")})`);
  if (output === undefined) throw new UsageError("--output is required: the CSV file to write");
  if (!output.endsWith(".csv")) throw new UsageError(`--output ${output}: sqlrunner writes CSV, so the file must end in .csv`);

  let sql: string;
  try {
    sql = fs.readFileSync(queryFile, "utf8");
  } catch {
    throw new UserError(`${queryFile}: no such file`);
  }
  // A trailing semicolon would end the view's body early.
  sql = sql.replace(/[\s;]+$/, "");
  if (sql.trim() === "") throw new UserError(`${queryFile} holds no query`);

  const conn = await open(dsn, dummyTables);
  try {
    try {
      await conn.exec(`CREATE TEMP VIEW ${VIEW} AS ${sql}`);
    } catch (e) {
      throw new UserError(`${queryFile}: the database refused the query: ${(e as Error).message}`);
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
      throw new UserError(`${queryFile}: the query failed: ${(e as Error).message}`);
    } finally {
      out.end();
      await once(out, "close");
    }
  } finally {
    await conn.close();
  }
}

async function open(dsn: string | undefined, dummyTables: string | undefined): Promise<SqlConnection> {
  if (dsn !== undefined) return parseDsn(dsn).connect(true);
  if (dummyTables === undefined) {
    throw new UserError(
      "sqlrunner runs against the backend's database, and there is none here (no DATABASE_URL); to try the query on your machine, add --dummy-tables DIR with a <table>.csv (or .csv.gz, .parquet) per table it reads",
    );
  }
  let files: string[];
  try {
    files = fs.readdirSync(dummyTables).sort();
  } catch {
    throw new UserError(`--dummy-tables ${dummyTables}: no such folder`);
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
    throw new UserError(`--dummy-tables ${dummyTables}: ${(e as Error).message}`);
  }
  return conn;
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

// One measurement, in a process of its own so that its peak RSS is its own:
//   measure.ts <engine> <compiled|hand> <database> <dataset.json> <out.csv>
// Prints one JSON line: wall time, peak RSS, rows and the output's sha256.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { datasetFromJson } from "../dist/querymodel/index.js";
import { DuckdbConnection, PostgresConnection, SqlEngine, SqliteConnection, fromSql, type SqlConnection } from "../dist/engines/sql/index.js";
import { writeDataset } from "../dist/engines/files/index.js";
import { datasetColumns, type Row } from "../dist/engines/types.js";
import { handWrittenSql, type Db } from "./handwritten.js";

const [engine, mode, database, datasetFile, out] = process.argv.slice(2) as [Db, "compiled" | "hand", string, string, string];
const dataset = datasetFromJson(JSON.parse(readFileSync(datasetFile, "utf8")));
const columns = datasetColumns(dataset);

function connect(): Promise<SqlConnection> {
  if (engine === "sqlite") return Promise.resolve(new SqliteConnection(database, { readonly: true }));
  if (engine === "duckdb") return DuckdbConnection.open(database, { readonly: true });
  const [url, schema] = database.split("#") as [string, string];
  return PostgresConnection.open(url, { schema });
}

async function* handWritten(): AsyncIterable<Row[]> {
  const conn = await connect();
  try {
    for await (const batch of conn.query(handWrittenSql(engine))) yield batch.map((r) => r.map((v, i) => fromSql(v, columns[i]!.type as never)));
  } finally {
    await conn.close();
  }
}

const start = performance.now();
const rows = mode === "compiled" ? new SqlEngine(engine, connect, { backend: { permissions: [] } }).execute(dataset) : handWritten();
const { rows: n } = await writeDataset(out, columns, rows);
const wallMs = performance.now() - start;
const sha256 = createHash("sha256").update(readFileSync(out)).digest("hex");
process.stdout.write(JSON.stringify({ wallMs, maxRssMb: process.resourceUsage().maxRSS / 1024, rows: n, sha256 }) + "\n");

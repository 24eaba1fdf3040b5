// One measures measurement, in a process of its own (its peak RSS its own):
//   measures.ts <engine> <together|per-interval|one-dataset> <database> <measures.json> <out.csv>
//  together      every interval in one set of statements (what generate-measures does)
//  per-interval  the dataset once per interval (ehrQL's way; the fallback for engines without SQL)
//  one-dataset   one generate-dataset of the same variables for the first interval (the yardstick)
// Prints one JSON line: wall time, peak RSS, rows written, the output's sha256.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { INTERVAL_END, INTERVAL_START, makeDataset, measureGroupColumns, measuresColumns, measuresFromJson, parameterSubstituter, denominatorPopulation } from "../dist/querymodel/index.js";
import { DuckdbConnection, PostgresConnection, SqlEngine, SqliteConnection, type SqlConnection } from "../dist/engines/sql/index.js";
import { writeDataset } from "../dist/engines/files/index.js";
import { runMeasures } from "../dist/engines/measures.js";
import { datasetColumns, type Engine } from "../dist/engines/types.js";

const [engineName, mode, database, measuresFile, out] = process.argv.slice(2) as [string, "together" | "per-interval" | "one-dataset", string, string, string];
const measures = measuresFromJson(JSON.parse(readFileSync(measuresFile, "utf8")));

function connect(): Promise<SqlConnection> {
  if (engineName === "sqlite") return Promise.resolve(new SqliteConnection(database, { readonly: true }));
  if (engineName === "duckdb") return DuckdbConnection.open(database, { readonly: true });
  const [url, schema] = database.split("#") as [string, string];
  return PostgresConnection.open(url, { schema });
}

const sql = new SqlEngine(engineName, connect, { backend: { permissions: [] } });
const start = performance.now();
let rows: number;
if (mode === "one-dataset") {
  const m = measures.measures[0]!;
  const [from, to] = m.intervals[0]!;
  const sub = parameterSubstituter({ [INTERVAL_START]: from, [INTERVAL_END]: to });
  const variables = [
    ...measures.measures.map((x, i) => ({ name: `numerator_${i}`, series: sub(x.numerator) })),
    ...measureGroupColumns(measures).map((g) => ({ name: g.name, series: sub(g.series) })),
  ];
  const dataset = makeDataset(sub(denominatorPopulation(m.denominator)), variables);
  rows = (await writeDataset(out, datasetColumns(dataset), sql.execute(dataset))).rows;
} else {
  // Without intervalTotals, runMeasures runs the dataset once per interval.
  const engine: Engine = mode === "together" ? sql : { name: sql.name, execute: (d) => sql.execute(d) };
  rows = (await writeDataset(out, measuresColumns(measures), runMeasures(engine, measures))).rows;
}
const wallMs = performance.now() - start;
const sha256 = createHash("sha256").update(readFileSync(out)).digest("hex");
process.stdout.write(JSON.stringify({ wallMs, maxRssMb: process.resourceUsage().maxRSS / 1024, rows, sha256 }) + "\n");

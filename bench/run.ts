// npm run bench: builds (once, then cached) a synthetic backend of N patients
// on DuckDB, SQLite and PostgreSQL, runs bench/definition.ts compiled by
// Enclave and the same table written by hand in SQL on each, in separate
// processes, and prints wall time, peak RSS, the ratio compiled / hand-written,
// and whether the two outputs are identical. Then the measures of
// bench/measures-definition.ts (12 monthly intervals, two group-bys), all
// intervals together and once per interval, against one generate-dataset of
// the same variables, on --measures-engines (default duckdb). Last, dummy data
// at 1,000 and 10,000 patients (bench/dummydata.ts; --no-dummy to skip), and
// the runner's overhead per action (bench/runner.ts; --no-runner to skip), and
// the job server's public event log under load (bench/jobserver.ts;
// --no-jobserver to skip), and the breach scan of a 5,000-commit repository
// (bench/breach.ts; --no-breach to skip), and a checker's view of a
// 5,000-row CSV in Airlock (bench/airlock.ts; --no-airlock to skip).
//
//   npm run bench -- [--patients N] [--engines duckdb,sqlite,postgres] [--measures-engines duckdb] [--runs R] [--no-dummy] [--no-runner] [--no-jobserver] [--no-breach] [--no-airlock]
// PostgreSQL: ENCLAVE_BENCH_POSTGRES_URL (or ENCLAVE_TEST_POSTGRES_URL).

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadDefinition, loadMeasuresDefinition } from "../dist/pipeline/definitions.js";
import { datasetToJson, measuresToJson } from "../dist/querymodel/index.js";
import { DuckdbConnection, PostgresConnection, SqliteConnection, type SqlConnection } from "../dist/engines/sql/index.js";
import { synthesize } from "../dist/synth/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const { values } = parseArgs({
  options: {
    patients: { type: "string", default: "1000000" },
    engines: { type: "string", default: "duckdb,sqlite,postgres" },
    "measures-engines": { type: "string", default: "duckdb" },
    "no-dummy": { type: "boolean", default: false },
    "no-runner": { type: "boolean", default: false },
    "no-jobserver": { type: "boolean", default: false },
    "no-breach": { type: "boolean", default: false },
    "no-airlock": { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
    seed: { type: "string", default: "1" },
  },
});
const patients = Number(values.patients);
const seed = Number(values.seed);
const runs = Number(values.runs);
const engines = values.engines!.split(",").filter(Boolean) as ("duckdb" | "sqlite" | "postgres")[];
const measuresEngines = values["measures-engines"]!.split(",").filter(Boolean) as ("duckdb" | "sqlite" | "postgres")[];
const cache = join(here, ".cache");
mkdirSync(cache, { recursive: true });
const pgUrl = process.env.ENCLAVE_BENCH_POSTGRES_URL ?? process.env.ENCLAVE_TEST_POSTGRES_URL;

const log = (s: string) => process.stderr.write(`${s}\n`);

/** The database of an engine, built by `enclave synth` the first time. */
async function backend(engine: string): Promise<string> {
  const name = `backend-${patients}-seed${seed}`;
  if (engine === "postgres") {
    if (!pgUrl) throw new Error("set ENCLAVE_BENCH_POSTGRES_URL (or ENCLAVE_TEST_POSTGRES_URL) to benchmark PostgreSQL");
    const schema = name.replace(/-/g, "_");
    const probe = await PostgresConnection.open(pgUrl);
    const done = await probe.tableExists(`${schema}.enclave_bench_complete`);
    if (!done) {
      await probe.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await probe.exec(`CREATE SCHEMA ${schema}`);
    }
    await probe.close();
    if (!done) {
      await build("postgres", () => PostgresConnection.open(pgUrl, { schema }));
      const c = await PostgresConnection.open(pgUrl, { schema });
      await c.exec("CREATE TABLE enclave_bench_complete (done BOOLEAN)");
      await c.close();
    }
    return `${pgUrl}#${schema}`;
  }
  const file = join(cache, `${name}.${engine === "sqlite" ? "db" : "duckdb"}`);
  if (!existsSync(file)) {
    const partial = `${file}.partial`;
    rmSync(partial, { force: true });
    await build(engine, async () => (engine === "sqlite" ? new SqliteConnection(partial, { create: true }) : DuckdbConnection.open(partial)));
    renameSync(partial, file);
  }
  return file;
}

async function build(engine: string, connect: () => Promise<SqlConnection>): Promise<void> {
  log(`building the ${engine} backend: ${patients.toLocaleString("en")} patients (cached for later runs)...`);
  const start = performance.now();
  const conn = await connect();
  try {
    const r = await synthesize({ patients, seed, connection: conn, tables: "core", onProgress: (m: string) => log(`  ${m}`) });
    log(`  done in ${((performance.now() - start) / 1000).toFixed(0)} s: ${Object.entries(r.tables).map(([t, n]) => `${t} ${n}`).join(", ")}`);
  } finally {
    await conn.close();
  }
}

interface Measurement {
  wallMs: number;
  maxRssMb: number;
  rows: number;
  sha256: string;
}

function measure(engine: string, mode: "compiled" | "hand", database: string, datasetFile: string): Measurement {
  const out = join(cache, `out-${engine}-${mode}.csv`);
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "measure.ts"), engine, mode, database, datasetFile, out], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`${engine} ${mode} failed`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measurement;
}

const dataset = await loadDefinition(join(here, "definition.ts"));
const datasetFile = join(cache, "dataset.json");
writeFileSync(datasetFile, JSON.stringify(datasetToJson(dataset)));
log(`definition: ${dataset.variables.length} variables; ${runs} run(s) each, best of runs reported`);

const results: string[] = [];
let failed = false;
for (const engine of engines) {
  const database = await backend(engine);
  const best = (mode: "compiled" | "hand") => {
    const all = Array.from({ length: runs }, () => measure(engine, mode, database, datasetFile));
    return all.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  };
  const hand = best("hand");
  const compiled = best("compiled");
  const same = hand.sha256 === compiled.sha256;
  failed ||= !same;
  results.push(
    [
      engine.padEnd(9),
      `${(compiled.wallMs / 1000).toFixed(2)} s`.padStart(9),
      `${(hand.wallMs / 1000).toFixed(2)} s`.padStart(9),
      `${(compiled.wallMs / hand.wallMs).toFixed(2)}x`.padStart(7),
      `${compiled.maxRssMb.toFixed(0)} MB`.padStart(9),
      `${hand.maxRssMb.toFixed(0)} MB`.padStart(9),
      String(compiled.rows).padStart(8),
      same ? "identical" : "DIFFERENT",
    ].join("  "),
  );
}
const cpu = execFileSync("nproc").toString().trim();
if (results.length > 0) {
console.log(`\n${patients.toLocaleString("en")} patients, ${cpu} cores; wall time end to end (query and writing the CSV), peak RSS of the Enclave process`);
console.log(["engine".padEnd(9), "compiled".padStart(9), "by hand".padStart(9), "ratio".padStart(7), "RSS comp".padStart(9), "RSS hand".padStart(9), "rows".padStart(8), "results"].join("  "));
for (const r of results) console.log(r);
}
if (failed) console.error("\nthe compiled and hand-written outputs differ: see bench/.cache/out-*.csv");

// ---- measures -----------------------------------------------------------------

type MeasuresMode = "together" | "per-interval" | "one-dataset";
function measureMeasures(engine: string, mode: MeasuresMode, database: string, measuresFile: string): Measurement {
  const out = join(cache, `measures-${engine}-${mode}.csv`);
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "measures.ts"), engine, mode, database, measuresFile, out], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`measures ${engine} ${mode} failed`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measurement;
}

if (measuresEngines.length > 0) {
  const measures = await loadMeasuresDefinition(join(here, "measures-definition.ts"));
  const measuresFile = join(cache, "measures.json");
  writeFileSync(measuresFile, JSON.stringify(measuresToJson(measures)));
  const intervals = measures.measures[0]!.intervals.length;
  log(`measures: ${measures.measures.length} measures, ${intervals} intervals, group-bys ${measures.measures[0]!.groupBy.map((g) => g.name).join(", ")}`);
  const lines: string[] = [];
  for (const engine of measuresEngines) {
    const database = await backend(engine);
    const best = (mode: MeasuresMode) => Array.from({ length: runs }, () => measureMeasures(engine, mode, database, measuresFile)).reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
    const one = best("one-dataset");
    const together = best("together");
    const each = best("per-interval");
    const same = together.sha256 === each.sha256;
    failed ||= !same;
    lines.push(
      [
        engine.padEnd(9),
        `${(one.wallMs / 1000).toFixed(2)} s`.padStart(9),
        `${(together.wallMs / 1000).toFixed(2)} s`.padStart(9),
        `${(together.wallMs / one.wallMs).toFixed(2)}x`.padStart(7),
        `${(each.wallMs / 1000).toFixed(2)} s`.padStart(9),
        `${(each.wallMs / one.wallMs).toFixed(2)}x`.padStart(7),
        `${together.maxRssMb.toFixed(0)} MB`.padStart(9),
        String(together.rows).padStart(6),
        same ? "identical" : "DIFFERENT",
      ].join("  "),
    );
  }
  console.log(`\nmeasures: ${patients.toLocaleString("en")} patients, ${cpu} cores, ${intervals} monthly intervals; ratios against one generate-dataset of the same variables (first interval)`);
  console.log(["engine".padEnd(9), "dataset".padStart(9), "together".padStart(9), "ratio".padStart(7), "per intv".padStart(9), "ratio".padStart(7), "RSS tog.".padStart(9), "rows".padStart(6), "together vs per interval"].join("  "));
  for (const l of lines) console.log(l);
}

if (!values["no-dummy"]) {
  console.log("");
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "dummydata.ts"), "--seed", String(seed)], { stdio: "inherit" });
  failed ||= r.status !== 0;
}
if (!values["no-runner"]) {
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "runner.ts"), "--runs", String(Math.max(3, runs))], { stdio: "inherit" });
  failed ||= r.status !== 0;
}
if (!values["no-jobserver"]) {
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "jobserver.ts")], { stdio: "inherit" });
  failed ||= r.status !== 0;
}
if (!values["no-breach"]) {
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "breach.ts")], { stdio: "inherit" });
  failed ||= r.status !== 0;
}
if (!values["no-airlock"]) {
  const r = spawnSync(process.execPath, ["--import", join(root, "dist/cli/loader/register.js"), join(here, "airlock.ts")], { stdio: "inherit" });
  failed ||= r.status !== 0;
}
if (failed) process.exit(1);

// Choosing where the rows come from: each engine over table files, a backend
// database by DSN or DATABASE_URL (with opt-outs), and the SQL an engine runs.

import * as fs from "node:fs";
import * as path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFINITION, TABLES, enclave, ensureBuilt, removeStudies, study } from "./helpers.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

const EXPECTED = "patient_id,sex,events,last_value\n1,female,2,\n2,male,1,2.25\n3,,0,\n";
const PG = process.env.ENCLAVE_TEST_POSTGRES_URL;

/** A SQLite backend with the tables of DEFINITION; patient 2 has a type 1 opt-out. */
function sqliteBackend(dir: string, optOuts = true): string {
  const file = path.join(dir, "backend.db");
  const db = new Database(file);
  db.exec("CREATE TABLE people (patient_id INTEGER, date_of_birth TEXT, sex TEXT)");
  db.exec("INSERT INTO people VALUES (1, '1980-05-01', 'female'), (2, '2001-12-31', 'male'), (3, NULL, NULL)");
  db.exec("CREATE TABLE events (patient_id INTEGER, date TEXT, code TEXT, value REAL)");
  db.exec("INSERT INTO events VALUES (1, '2020-01-01', '123456', 1.5), (1, '2021-06-01', '123456', NULL), (2, '2019-03-03', '654321', 2.25)");
  if (optOuts) {
    db.exec("CREATE TABLE patients_with_type_one_dissent (patient_id INTEGER)");
    db.exec("INSERT INTO patients_with_type_one_dissent VALUES (2)");
    db.exec("CREATE TABLE patients_without_ndoo (patient_id INTEGER)");
    db.exec("INSERT INTO patients_without_ndoo VALUES (1), (2), (3)");
  }
  db.close();
  return file;
}

describe.concurrent("engines and data sources", { timeout: 90_000 }, () => {
  const engines = ["memory", "sqlite", "duckdb", ...(PG ? ["postgres"] : [])];
  it.each(engines)("gives the same dataset on the %s engine", async (engine) => {
    const dir = study({ "def.ts": DEFINITION, ...TABLES });
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--engine", engine], { cwd: dir, env: PG ? { ENCLAVE_POSTGRES_URL: PG } : {} });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(EXPECTED);
  });

  it("runs on a backend by --dsn, leaving out opted-out patients", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const db = sqliteBackend(dir);
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${db}`], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("patient_id,sex,events,last_value\n1,female,2,\n3,,0,\n");
  });

  it("keeps them with the project's include_t1oo permission", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const db = sqliteBackend(dir);
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${db}`], { cwd: dir, env: { ENCLAVE_PERMISSIONS: '["include_t1oo"]' } });
    expect(r.stdout).toBe(EXPECTED);
  });

  it("takes the DSN from DATABASE_URL, and writes Parquet", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const db = sqliteBackend(dir);
    const r = await enclave(["generate-dataset", "def.ts", "--output", "out/d.parquet"], { cwd: dir, env: { DATABASE_URL: `sqlite://${db}` } });
    expect(r.stderr).toBe("wrote 2 rows to out/d.parquet\n");
    expect(fs.statSync(path.join(dir, "out/d.parquet")).size).toBeGreaterThan(100);
  });

  it("in a backend (DATABASE_URL set), runs against its database and ignores the run line's dummy data options, as ehrQL does", async () => {
    const dir = study({ "def.ts": DEFINITION, ...TABLES, "dummy.csv": "patient_id,sex,events,last_value\n9,female,1,\n" });
    const db = sqliteBackend(dir);
    const env = { DATABASE_URL: `sqlite://${db}` };
    const file = await enclave(["generate-dataset", "def.ts", "--dummy-data-file", "dummy.csv"], { cwd: dir, env });
    expect(file.stdout).toBe("patient_id,sex,events,last_value\n1,female,2,\n3,,0,\n");
    expect(file.stderr).toBe("note: DATABASE_URL is set, so this runs against that database; --dummy-data-file dummy.csv is for dummy data on your own machine, and ignored here\n");
    const tables = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--engine", "duckdb"], { cwd: dir, env });
    expect(tables.stdout).toBe("patient_id,sex,events,last_value\n1,female,2,\n3,,0,\n");
    expect(tables.stderr).toBe("note: DATABASE_URL is set, so this runs against that database; --dummy-tables tables, --engine duckdb are for dummy data on your own machine, and ignored here\n");
    // An explicit --dsn beside them is still a contradiction.
    const both = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${db}`, "--dummy-data-file", "dummy.csv"], { cwd: dir, env });
    expect([both.code, both.stderr]).toEqual([2, "error: give either --dummy-data-file or --dsn, not both: the dummy data file is the dataset itself\n"]);
  });

  it("refuses a backend without opt-out tables, and never shows the DSN", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const db = sqliteBackend(dir, false);
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${db}`], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the backend has no patients_with_type_one_dissent table/);
    expect(r.stderr).not.toContain(db);
  });

  it.runIf(PG)("never shows a PostgreSQL password, even when it cannot connect", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", "postgresql://enclave:s3cret-pw@127.0.0.1:1/nowhere"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not connect/);
    expect(r.stderr).not.toContain("s3cret-pw");
  });

  it("refuses a DSN of an unknown kind without repeating it", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", "mysql://u:pw@h/db"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must start with sqlite:\/\/, duckdb:\/\/, postgresql:\/\//);
    expect(r.stderr).not.toContain("pw@h");
  });

  it("refuses --engine that does not match the DSN, and both tables and a DSN", async () => {
    const dir = study({ "def.ts": DEFINITION, ...TABLES });
    const db = sqliteBackend(dir);
    const a = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${db}`, "--engine", "duckdb"], { cwd: dir });
    expect([a.code, a.stderr]).toEqual([2, "error: --engine duckdb does not match the DSN, which is a sqlite database\n"]);
    const b = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${db}`, "--dummy-tables", "tables"], { cwd: dir });
    expect([b.code, b.stderr]).toEqual([2, "error: give either --dummy-tables or --dsn, not both\n"]);
  });

  it("reports a table the backend lacks", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const file = path.join(dir, "empty.db");
    const db = new Database(file);
    db.exec("CREATE TABLE patients_with_type_one_dissent (patient_id INTEGER); CREATE TABLE patients_without_ndoo (patient_id INTEGER)");
    db.close();
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", `sqlite://${file}`], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([1, "error: the database has no table people, events, which the definition reads\n"]);
  });

  it("prints the SQL an engine runs, with the opt-out conditions for a backend", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const r = await enclave(["dump-dataset-sql", "def.ts", "--engine", "postgres", "--backend"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/CREATE TEMPORARY TABLE/);
    expect(r.stdout).toMatch(/NOT EXISTS \(SELECT 1 FROM "patients_with_type_one_dissent"/);
    expect(r.stdout).toMatch(/ORDER BY u.patient_id;/);
    const plain = await enclave(["dump-dataset-sql", "def.ts", "--engine", "sqlite"], { cwd: dir });
    expect(plain.stdout).not.toMatch(/patients_with_type_one_dissent/);
  });

  it("writes a synthetic backend that a real definition runs on, and refuses bad arguments", async () => {
    const dir = study({
      "def.ts": `import { createDataset } from "enclave";
import { patients, practiceRegistrations } from "enclave/tables/core";
const dataset = createDataset();
dataset.definePopulation(practiceRegistrations.existsForPatientOn("2024-01-01").and(patients.ageOn("2024-01-01").ge(18)));
dataset.addColumn("age", patients.ageOn("2024-01-01"));
export default dataset;
`,
    });
    const made = await enclave(["synth", "--patients", "300", "--seed", "4", "--dsn", "duckdb://backend.duckdb", "--tables", "core"], { cwd: dir });
    expect(made.code).toBe(0);
    expect(made.stderr).toMatch(/wrote \d+ tables, \d+ rows/);
    const r = await enclave(["generate-dataset", "def.ts", "--dsn", "duckdb://backend.duckdb"], { cwd: dir });
    expect(r.code).toBe(0);
    const ages = r.stdout.trim().split("\n").slice(1).map((l) => Number(l.split(",")[1]));
    expect(ages.length).toBeGreaterThan(100);
    expect(ages.every((a) => a >= 18 && a <= 110)).toBe(true);
    const neither = await enclave(["synth", "--patients", "10"], { cwd: dir });
    expect([neither.code, neither.stderr]).toEqual([2, "error: give one of --output DIR or --dsn URL\n"]);
    const bad = await enclave(["synth", "--patients", "-3", "--output", "x"], { cwd: dir });
    expect(bad.code).toBe(2);
  });
});

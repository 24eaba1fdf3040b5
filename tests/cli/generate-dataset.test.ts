// `enclave generate-dataset` end to end: the built command, a definition in a
// folder without node_modules, table files, and the dataset it writes.

import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFINITION, ROOT, TABLES, enclave, ensureBuilt, removeStudies, study } from "./helpers.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

const EXPECTED = "patient_id,sex,events,last_value\n1,female,2,\n2,male,1,2.25\n3,,0,\n";

describe.concurrent("generate-dataset", { timeout: 60_000 }, () => {
  it("writes a .csv file", async () => {
    const dir = study({ "dataset_definition.ts": DEFINITION, ...TABLES });
    const r = await enclave(["generate-dataset", "dataset_definition.ts", "--dummy-tables", "tables", "--output", "out/dataset.csv"], { cwd: dir });
    expect(r.stderr).toBe("wrote 3 rows to out/dataset.csv\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(fs.readFileSync(path.join(dir, "out/dataset.csv"), "utf8")).toBe(EXPECTED);
  });

  it("writes a .csv.gz file", async () => {
    const dir = study({ "analysis/dataset_definition.ts": DEFINITION, ...TABLES });
    const r = await enclave(["generate-dataset", "analysis/dataset_definition.ts", "--dummy-tables", "tables", "--output", "output/dataset.csv.gz"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(gunzipSync(fs.readFileSync(path.join(dir, "output/dataset.csv.gz"))).toString("utf8")).toBe(EXPECTED);
  });

  it("writes to standard output without --output, and what the definition prints goes to stderr", async () => {
    const dir = study({ "def.ts": `console.log("printed by the definition");\n${DEFINITION}`, ...TABLES });
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(EXPECTED);
    expect(r.stderr).toBe("printed by the definition\n");
  });

  it("runs from any folder: paths are the user's, codelists are relative to the definition", async () => {
    const dir = study({
      "study/analysis/def.ts": `
import { codelistFromCsv, createDataset, eventTable } from "enclave";
const events = eventTable("events", { date: "date", code: "snomedct", value: "float" });
const codes = codelistFromCsv("../codelists/codes.csv", { column: "code" });
const dataset = createDataset();
dataset.definePopulation(events.existsForPatient());
dataset.addColumn("has_code", events.where(events.code.isIn(codes)).existsForPatient());
export default dataset;
`,
      "study/codelists/codes.csv": "code,term\n654321,Something\n",
      ...Object.fromEntries(Object.entries(TABLES).map(([k, v]) => [`study/${k}`, v])),
    });
    const r = await enclave(["generate-dataset", "study/analysis/def.ts", "--dummy-tables", "study/tables"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("patient_id,has_code\n1,F\n2,T\n");
  });

  it("passes --param values to getParameter", async () => {
    const dir = study({
      "def.ts": `
import { createDataset, getParameter, patientTable } from "enclave";
const people = patientTable("people", { date_of_birth: "date", sex: "str" });
const dataset = createDataset();
dataset.definePopulation(people.sex.eq(getParameter("sex")));
dataset.addColumn("sex", people.sex);
export default dataset;
`,
      ...TABLES,
    });
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--param", "sex=male", "--param", "unused=a=b"], { cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("patient_id,sex\n2,male\n");
    const missing = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables"], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: def\.ts:5: getParameter\("sex"\): .*--param sex=/);
  });

  it("runs the demo study", async () => {
    const r = await enclave(["generate-dataset", "examples/demo/dataset_definition.ts", "--dummy-tables", "examples/demo/dummy_tables"], { cwd: ROOT });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("patient_id,age,sex,practice,smoking_status,asthma_reviews,latest_bmi,latest_bmi_date,first_ics_date,ons_death_date");
    expect(lines).toHaveLength(16);
  });

  it("reports a table file it cannot read, naming the file", async () => {
    const dir = study({ "def.ts": DEFINITION, ...TABLES, "tables/events.csv": "patient_id,date,code,value\n1,not-a-date,123456,1\n" });
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--output", "out/dataset.csv"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*events\.csv.*\n$/);
    expect(fs.readdirSync(path.join(dir, "out"))).toEqual([]);
  });
});

describe.concurrent("generate-dataset refuses", { timeout: 60_000 }, () => {
  const dir = study({ "def.ts": DEFINITION, ...TABLES });

  it("an engine that does not exist (exit 2)", async () => {
    const unknown = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--engine", "oracle"], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: option '--engine <name>' argument 'oracle' is invalid. Allowed choices are memory, sqlite, duckdb, postgres.");
  });

  it("a malformed --param (exit 2)", async () => {
    for (const bad of ["noequals", "=value", "1x=2"]) {
      const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--param", bad], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`error: option '--param <name=value>' argument '${bad}' is invalid. Expected name=value`);
    }
    const twice = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--param", "a=1", "--param", "a=2"], { cwd: dir });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("Parameter a is given twice.");
  });

  it("--engine other than memory without tables or a database", async () => {
    const r = await enclave(["generate-dataset", "def.ts", "--engine", "duckdb"], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([2, "error: --engine duckdb needs --dummy-tables DIR or --dsn URL; dummy data is run by the memory engine\n"]);
  });

  it("a --dummy-tables folder that does not exist", async () => {
    const r = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "nowhere"], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([1, "error: --dummy-tables nowhere: no such folder\n"]);
  });

  it("an output format it cannot write", async () => {
    const unknown = await enclave(["generate-dataset", "def.ts", "--dummy-tables", "tables", "--output", "x.xlsx"], { cwd: dir });
    expect([unknown.code, unknown.stderr]).toEqual([1, "error: --output x.xlsx: cannot tell the format from the file's ending; use .csv, .csv.gz, .arrow, .parquet\n"]);
  });

  it("a definition file that does not exist", async () => {
    const r = await enclave(["generate-dataset", "missing.ts", "--dummy-tables", "tables"], { cwd: dir });
    expect([r.code, r.stderr]).toEqual([1, "error: dataset definition missing.ts does not exist\n"]);
  });
});

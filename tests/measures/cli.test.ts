// `enclave generate-measures` end to end: the built command, a measures
// definition in a folder without node_modules, and table files.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

const TABLES = {
  "tables/people.csv": "patient_id,sex,registered\n1,F,T\n2,M,T\n3,F,T\n4,M,F\n5,F,\n6,F,T\n",
  "tables/events.csv": "patient_id,date,value\n1,2023-01-05,2\n1,2023-01-20,3\n1,2023-02-10,\n2,2023-01-15,5\n3,2023-02-01,1\n3,2023-03-31,4\n4,2023-01-10,7\n7,2023-01-02,10\n",
};

const DEFINITION = (exportAs: string, extra = "") => `
import { INTERVAL, createMeasures, eventTable, getParameter, months, patientTable } from "enclave";

const people = patientTable("people", { sex: "str", registered: "bool" });
const events = eventTable("events", { date: "date", value: "int" });
const inInterval = events.where(events.date.isDuring(INTERVAL));

const measures = createMeasures();
measures.defineDefaults({ denominator: people.registered, intervals: months(Number(getParameter("months", { default: "3" }))).startingOn("2023-01-01") });
measures.defineMeasure("had_event", { numerator: inInterval.existsForPatient(), groupBy: { sex: people.sex } });
measures.defineMeasure("high_events", { numerator: inInterval.where(events.value.ge(3)).countForPatient(), denominator: inInterval.countForPatient(), groupBy: {} });
${extra}
${exportAs}
`;

const HEADER = "measure,interval_start,interval_end,ratio,numerator,denominator,sex\n";
const EXPECTED =
  HEADER +
  "had_event,2023-01-01,2023-01-31,0.3333333333333333,1,3,F\n" +
  "had_event,2023-01-01,2023-01-31,1.0,1,1,M\n" +
  "had_event,2023-02-01,2023-02-28,0.6666666666666666,2,3,F\n" +
  "had_event,2023-02-01,2023-02-28,0.0,0,1,M\n" +
  "had_event,2023-03-01,2023-03-31,0.3333333333333333,1,3,F\n" +
  "had_event,2023-03-01,2023-03-31,0.0,0,1,M\n" +
  "high_events,2023-01-01,2023-01-31,0.8,4,5,\n" +
  "high_events,2023-02-01,2023-02-28,0.0,0,2,\n" +
  "high_events,2023-03-01,2023-03-31,1.0,1,1,\n";

describe.concurrent("generate-measures", { timeout: 60_000 }, () => {
  it("writes the measures to a file, from the default export", async () => {
    const dir = study({ "measures.ts": DEFINITION("export default measures;", "measures.configureDisclosureControl({ enabled: false });"), ...TABLES });
    const r = await enclave(["generate-measures", "measures.ts", "--dummy-tables", "tables", "--output", "out/measures.csv"], { cwd: dir });
    expect(r.stderr).toBe("wrote 9 rows to out/measures.csv\n");
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(dir, "out/measures.csv"), "utf8")).toBe(EXPECTED);
  });

  it("takes the export named measures, --param, and --engine; disclosure control is on by default", async () => {
    const dir = study({ "measures.ts": DEFINITION("export { measures };"), ...TABLES });
    for (const engine of ["memory", "sqlite", "duckdb"]) {
      const r = await enclave(["generate-measures", "measures.ts", "--dummy-tables", "tables", "--engine", engine, "--param", "months=1"], { cwd: dir });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(HEADER + "had_event,2023-01-01,2023-01-31,,0,0,F\nhad_event,2023-01-01,2023-01-31,,0,0,M\nhigh_events,2023-01-01,2023-01-31,,0,0,\n");
    }
  });

  it("without --dummy-tables or --dsn, runs over dummy data whose patients are in a denominator", async () => {
    const dir = study({ "measures.ts": DEFINITION("export default measures;", "measures.configureDummyData({ populationSize: 200 });\nmeasures.configureDisclosureControl({ enabled: false });") });
    const r = await enclave(["generate-measures", "measures.ts"], { cwd: dir, env: { DATABASE_URL: "" } });
    expect(r.stderr).toBe("note: no data source given, so this is dummy data (200 patients, seed 1)\n");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(HEADER.trim());
    const rows = lines.slice(1).map((l) => l.split(","));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    // Every patient is registered or has an event in some interval; the measures are not all empty.
    expect(rows.some((c) => c[0] === "had_event" && Number(c[5]) > 0)).toBe(true);
    expect(rows.some((c) => c[0] === "high_events" && Number(c[5]) > 0)).toBe(true);
    const again = await enclave(["generate-measures", "measures.ts"], { cwd: dir, env: { DATABASE_URL: "" } });
    expect(again.stdout).toBe(r.stdout);
    // Another seed, other dummy data.
    const seeded = study({ "measures.ts": DEFINITION("export default measures;", "measures.configureDummyData({ populationSize: 200, seed: 7 });\nmeasures.configureDisclosureControl({ enabled: false });") });
    const other = await enclave(["generate-measures", "measures.ts"], { cwd: seeded, env: { DATABASE_URL: "" } });
    expect(other.stderr).toBe("note: no data source given, so this is dummy data (200 patients, seed 7)\n");
    expect(other.stdout).not.toBe(r.stdout);
  });

  it("refuses a definition that exports no Measures, and reports errors at the definition's line", async () => {
    const dir = study({
      "dataset.ts": `import { createDataset, patientTable } from "enclave";\nconst p = patientTable("people", { sex: "str" });\nconst d = createDataset();\nd.definePopulation(p.sex.isNotNull());\nexport default d;\n`,
      "bad.ts": `import { createMeasures } from "enclave";\nconst m = createMeasures();\nm.defineMeasure("x", {});\nexport default m;\n`,
      ...TABLES,
    });
    const a = await enclave(["generate-measures", "dataset.ts", "--dummy-tables", "tables"], { cwd: dir });
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/must export a Measures \(made with createMeasures\(\)\) as its default export or as "measures"; its default export is a Dataset, not a Measures \(a dataset definition is run with generate-dataset\)/);
    const b = await enclave(["generate-measures", "bad.ts", "--dummy-tables", "tables"], { cwd: dir });
    expect(b.code).toBe(1);
    expect(b.stderr).toBe('error: bad.ts:3: defineMeasure("x"): no numerator given, and no default numerator; pass numerator here or in measures.defineDefaults({ numerator })\n');
  });

  it("is listed in --help", async () => {
    const r = await enclave(["generate-measures", "--help"], { cwd: process.cwd() });
    expect(r.code).toBe(0);
    for (const o of ["--output <file>", "--dummy-tables <dir>", "--engine <name>", "--dsn <url>", "--param <name=value>"]) expect(r.stdout).toContain(o);
  });
});

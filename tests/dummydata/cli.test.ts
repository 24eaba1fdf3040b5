// `enclave generate-dataset` with no data source: dummy data, end to end.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFINITION, ROOT, enclave, ensureBuilt, removeStudies, study } from "../cli/helpers.js";

beforeAll(ensureBuilt, 120_000);
afterAll(removeStudies);

describe.concurrent("generate-dataset without a data source", { timeout: 60_000 }, () => {
  it("writes dummy data: 1000 patients by default, the definition's columns, and says so", async () => {
    const dir = study({ "def.ts": DEFINITION });
    const r = await enclave(["generate-dataset", "def.ts"], { cwd: dir, env: { DATABASE_URL: "" } });
    expect(r.stderr).toBe("note: no data source given, so this is dummy data (1000 patients, seed 1)\n");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("patient_id,sex,events,last_value");
    expect(lines).toHaveLength(1001);
    expect(lines[1]!.startsWith("1,")).toBe(true);
    expect(lines[1000]!.startsWith("1000,")).toBe(true);
  });

  it("takes populationSize and seed from configureDummyData, the same output for the same seed", async () => {
    const def = (seed: number) => DEFINITION.replace("const dataset = createDataset();", `const dataset = createDataset();\ndataset.configureDummyData({ populationSize: 25, seed: ${seed} });`);
    const dir = study({ "a.ts": def(7), "b.ts": def(7), "c.ts": def(8) });
    const [a, b, c] = await Promise.all(["a.ts", "b.ts", "c.ts"].map((f) => enclave(["generate-dataset", f, "--output", `${f}.csv`], { cwd: dir, env: { DATABASE_URL: "" } })));
    expect(a!.stderr).toBe("note: no data source given, so this is dummy data (25 patients, seed 7)\nwrote 25 rows to a.ts.csv\n");
    const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");
    expect(b!.code).toBe(0);
    expect(c!.code).toBe(0);
    expect(read("b.ts.csv")).toBe(read("a.ts.csv"));
    expect(read("c.ts.csv")).not.toBe(read("a.ts.csv"));
  });

  it("the demo study", async () => {
    const r = await enclave(["generate-dataset", path.join(ROOT, "examples/demo/dataset_definition.ts")], { cwd: ROOT, env: { DATABASE_URL: "" } });
    expect(r.stderr).toBe("note: no data source given, so this is dummy data (100 patients, seed 1)\n");
    expect(r.stdout.trim().split("\n")).toHaveLength(101);
  });

  it("a population that cannot be met: a clear error naming the conditions", async () => {
    const dir = study({
      "def.ts": `
import { createDataset } from "enclave";
import { patients } from "enclave/tables/core";
const dataset = createDataset();
const age = patients.ageOn("2020-01-01");
dataset.definePopulation(age.lt(10).and(age.gt(20)));
export default dataset;
`,
    });
    const r = await enclave(["generate-dataset", "def.ts"], { cwd: dir, env: { DATABASE_URL: "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot generate dummy data: the population cannot be satisfied: none of \d+ generated patients was in it; these conditions are never true together: "\("2020-01-01" - patients.date_of_birth\).years < 10" and "\("2020-01-01" - patients.date_of_birth\).years > 20"\n$/);
  });
});

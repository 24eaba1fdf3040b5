import { beforeAll, describe, expect, it } from "vitest";
import * as path from "node:path";
import { createDataset, value, years } from "../../src/language/index.js";
import { clinicalEvents, patients, practiceRegistrations } from "../../src/language/tables/core.js";
import type { Dataset, Series } from "../../src/querymodel/index.js";
import type { Row } from "../../src/engines/types.js";
import { makeDataset } from "../../src/querymodel/index.js";
import { datasetColumns } from "../../src/engines/types.js";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import { DummyDataError, generateDummyDataset, generateDummyTables } from "../../src/dummydata/index.js";
import { loadDefinition } from "../../src/cli/load-definition.js";
import { ROOT, ensureBuilt } from "../cli/helpers.js";

type Built = { toQueryModel(): Dataset };
const model = (d: Built): Dataset => d.toQueryModel();

async function run(dataset: Dataset, tables: Record<string, Row[]>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const b of new MemoryEngine(new RowsTableReader(tables)).execute(dataset)) out.push(...b);
  return out;
}

/** Every patient of the tables is in the population: the population as a variable is true for all of them. */
async function checkAllInPopulation(dataset: Dataset, tables: Record<string, Row[]>, size: number): Promise<void> {
  const probe = makeDataset(dataset.population, [{ name: "in_population", series: dataset.population as Series }]);
  const rows = await run(probe, tables);
  expect(rows.length).toBe(size);
  expect(rows.map((r) => r[0])).toEqual(Array.from({ length: size }, (_, i) => i + 1));
  const ids = new Set<number>();
  for (const t of Object.values(tables)) for (const r of t) ids.add(r[0] as number);
  expect(ids.size).toBe(size);
}

function checkTypes(dataset: Dataset, rows: Row[]): void {
  const cols = datasetColumns(dataset);
  for (const r of rows) {
    expect(r.length).toBe(cols.length);
    cols.forEach((c, i) => {
      const v = r[i]!;
      if (v === null) return;
      if (c.type === "int") expect(Number.isSafeInteger(v)).toBe(true);
      else if (c.type === "float") expect(typeof v).toBe("number");
      else if (c.type === "bool") expect(typeof v).toBe("boolean");
      else if (c.type === "date") expect(v).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      else expect(typeof v).toBe("string");
    });
  }
}

const share = (rows: Row[], i: number): number => rows.filter((r) => r[i] !== null).length / rows.length;

function registeredAdultsWithAsthma(): Built {
  const index = "2023-06-01";
  const d = createDataset();
  const asthma = clinicalEvents.where(clinicalEvents.snomedctCode.isIn(["195967001", "389145006"])).where(clinicalEvents.date.isOnOrBetween(value(index).sub(years(2)), index));
  const age = patients.ageOn(index);
  d.definePopulation(practiceRegistrations.existsForPatientOn(index).and(age.ge(18)).and(age.lt(65)).and(asthma.existsForPatient()));
  d.addColumn("age", age);
  d.addColumn("sex", patients.sex);
  d.addColumn("first_asthma", asthma.sortBy(asthma.date).firstForPatient().date);
  d.addColumn("asthma_count", asthma.countForPatient());
  d.addColumn("last_value", clinicalEvents.sortBy(clinicalEvents.date).lastForPatient().numericValue);
  d.addColumn("date_of_death", patients.dateOfDeath);
  return d;
}

describe("dummy data that meets the population", () => {
  it("registration on a date, an age range and a codelist event in a window", async () => {
    const dataset = model(registeredAdultsWithAsthma());
    const tables = await generateDummyTables(dataset, { populationSize: 300, seed: 3 });
    await checkAllInPopulation(dataset, tables, 300);
    const rows = await generateDummyDataset(dataset, { populationSize: 300, seed: 3 });
    expect(rows).toHaveLength(300);
    checkTypes(dataset, rows);
    for (const r of rows) {
      expect(r[1]).toBeGreaterThanOrEqual(18);
      expect(r[1]).toBeLessThan(65);
      expect(r[3] as string >= "2021-06-01" && (r[3] as string) <= "2023-06-01").toBe(true);
      expect(r[4]).toBeGreaterThanOrEqual(1);
    }
    // Realistic variety: several events for some, and some NULLs but not mostly.
    expect(rows.filter((r) => (r[4] as number) > 1).length).toBeGreaterThan(30);
    expect(share(rows, 5)).toBeGreaterThan(0.3);
    expect(share(rows, 5)).toBeLessThan(1);
    expect(new Set(rows.map((r) => r[2])).size).toBeGreaterThan(1);
  });

  it("is deterministic for a seed, and differs for another", async () => {
    const dataset = model(registeredAdultsWithAsthma());
    const a = await generateDummyDataset(dataset, { populationSize: 50, seed: 1 });
    const b = await generateDummyDataset(dataset, { populationSize: 50, seed: 1 });
    const c = await generateDummyDataset(dataset, { populationSize: 50, seed: 2 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("a filter on numeric ranges", async () => {
    const d = createDataset();
    const bmi = clinicalEvents.where(clinicalEvents.numericValue.ge(30).and(clinicalEvents.numericValue.lt(40)));
    d.definePopulation(bmi.existsForPatient().and(clinicalEvents.countForPatient().gt(2)));
    d.addColumn("bmi", bmi.sortBy(bmi.date, bmi.numericValue).lastForPatient().numericValue);
    d.addColumn("events", clinicalEvents.countForPatient());
    const dataset = model(d);
    const rows = await generateDummyDataset(dataset, { populationSize: 200, seed: 9 });
    expect(rows).toHaveLength(200);
    checkTypes(dataset, rows);
    for (const r of rows) {
      expect(r[1]).toBeGreaterThanOrEqual(30);
      expect(r[1]).toBeLessThan(40);
      expect(r[2]).toBeGreaterThan(2);
    }
  });

  it("a sex category, and the default size from configureDummyData", async () => {
    const d = createDataset();
    d.configureDummyData({ populationSize: 120, seed: "abc" });
    d.definePopulation(patients.sex.eq("female").and(patients.dateOfBirth.isBefore("2000-01-01")));
    d.addColumn("sex", patients.sex);
    d.addColumn("dob", patients.dateOfBirth);
    const dataset = model(d);
    const rows = await generateDummyDataset(dataset);
    expect(rows).toHaveLength(120);
    for (const r of rows) {
      expect(r[1]).toBe("female");
      expect(r[2] as string < "2000-01-01").toBe(true);
      expect((r[2] as string).endsWith("-01")).toBe(true);
    }
    expect(await generateDummyDataset(dataset, { populationSize: 0 })).toEqual([]);
  });

  it("a contradiction: says so, and names the conditions that conflict", async () => {
    const d = createDataset();
    const age = patients.ageOn("2020-01-01");
    d.definePopulation(age.lt(10).and(age.gt(20)).and(patients.sex.isNotNull()));
    const dataset = model(d);
    const err = await generateDummyDataset(dataset, { populationSize: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DummyDataError);
    const message = (err as Error).message;
    expect(message).toContain("the population cannot be satisfied");
    expect(message).toContain('these conditions are never true together: "("2020-01-01" - patients.date_of_birth).years < 10" and "("2020-01-01" - patients.date_of_birth).years > 20"');
  });

  it("a condition that can never be true on its own is named", async () => {
    const d = createDataset();
    d.definePopulation(patients.sex.eq("nonbinary").and(patients.dateOfBirth.isNotNull()));
    const err = await generateDummyDataset(model(d), { populationSize: 5 }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('this condition is never true: "patients.sex = "nonbinary""');
  });
});

describe("the demo study", () => {
  let dataset: Dataset;
  beforeAll(async () => {
    ensureBuilt();
    dataset = await loadDefinition(path.join(ROOT, "examples/demo/dataset_definition.ts"));
  }, 120_000);

  it("exactly populationSize patients, all in the population, with the definition's columns", async () => {
    const tables = await generateDummyTables(dataset, { populationSize: 1000, seed: 1 });
    await checkAllInPopulation(dataset, tables, 1000);
    const rows = await generateDummyDataset(dataset, { populationSize: 1000, seed: 1 });
    expect(rows).toHaveLength(1000);
    checkTypes(dataset, rows);
    const names = datasetColumns(dataset).map((c) => c.name);
    const at = (n: string): number => names.indexOf(n);
    // Ages are ages; some patients have a BMI, a steroid, a smoking code.
    for (const r of rows) expect(r[at("age")]).toBeGreaterThanOrEqual(0);
    expect(share(rows, at("latest_bmi"))).toBeGreaterThan(0.1);
    expect(share(rows, at("first_ics_date"))).toBeGreaterThan(0.1);
    expect(rows.filter((r) => r[at("smoking_status")] !== "missing").length / rows.length).toBeGreaterThan(0.1);
    expect(rows.filter((r) => (r[at("asthma_reviews")] as number) > 0).length / rows.length).toBeGreaterThan(0.1);
    // The configured size (100) when none is given.
    expect(await generateDummyDataset(dataset)).toHaveLength(100);
  }, 60_000);
});

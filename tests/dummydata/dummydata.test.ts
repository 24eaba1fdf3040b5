import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as path from "node:path";
import { createDataset, value, years } from "../../src/language/index.js";
import { clinicalEvents, onsDeaths, patients, practiceRegistrations } from "../../src/language/tables/core.js";
import type { Dataset, Series } from "../../src/querymodel/index.js";
import type { Row } from "../../src/engines/types.js";
import { makeDataset } from "../../src/querymodel/index.js";
import { datasetColumns } from "../../src/engines/types.js";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import { DummyDataError, type GeneratedTables, generateDummyDataset, generateDummyTables, generateTablesFor } from "../../src/dummydata/index.js";
import { loadDefinition } from "../../src/pipeline/definitions.js";
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

describe("agreement between tables", () => {
  it("a death constrained in ons_deaths is the patient's date of death too", async () => {
    const d = createDataset();
    d.definePopulation(onsDeaths.underlyingCauseOfDeath.isIn(["I21", "I63"]).and(onsDeaths.date.isOnOrBetween("2020-03-01", "2020-06-30")));
    d.addColumn("date_of_death", patients.dateOfDeath);
    d.addColumn("ons_date", onsDeaths.date);
    const rows = await generateDummyDataset(model(d), { populationSize: 200, seed: 4 });
    expect(rows).toHaveLength(200);
    for (const r of rows) {
      expect(r[2] as string >= "2020-03-01" && (r[2] as string) <= "2020-06-30").toBe(true);
      expect(r[1]).toBe(r[2]);
    }
  });

  it("a definition that asks for what real records never hold (an event before birth) still gets its patients", async () => {
    const d = createDataset();
    d.definePopulation(clinicalEvents.where(clinicalEvents.date.isBefore(patients.dateOfBirth)).existsForPatient());
    d.addColumn("dob", patients.dateOfBirth);
    expect(await generateDummyDataset(model(d), { populationSize: 50, seed: 1 })).toHaveLength(50);
  });
});

// bench/dummydata-definition.ts: a type 2 diabetes cohort (registered on the
// index date, alive, aged 18 to 89, with a diagnosis code), 22 variables over
// patients, practice_registrations, clinical_events, medications, ons_deaths and
// addresses. `npm run bench:dummy` times it at 1,000 and 10,000 patients.
describe("a realistic definition", () => {
  const SIZE = 1000;
  let dataset: Dataset;
  let generated: GeneratedTables;
  let rows: Row[];
  let names: string[];
  beforeAll(async () => {
    ensureBuilt();
    dataset = await loadDefinition(path.join(ROOT, "bench/dummydata-definition.ts"));
    names = dataset.variables.map((v) => v.name);
    generated = await generateTablesFor(dataset.population, dataset.variables.map((v) => v.series), { populationSize: SIZE, seed: 1 });
    rows = await run(dataset, generated.rows);
  }, 120_000);
  afterEach(() => {
    vi.useRealTimers();
  });

  const column = (name: string): Row[number][] => {
    const i = names.indexOf(name);
    expect(i).toBeGreaterThanOrEqual(0);
    return rows.map((r) => r[i + 1]!);
  };
  const nonNull = (name: string): number => column(name).filter((v) => v !== null).length / rows.length;
  const within = (what: string, x: number, lo: number, hi: number): void => {
    expect(x, what).toBeGreaterThanOrEqual(lo);
    expect(x, what).toBeLessThanOrEqual(hi);
  };

  it("exactly populationSize patients, all in the population", async () => {
    expect(dataset.variables.length).toBeGreaterThanOrEqual(15);
    await checkAllInPopulation(dataset, generated.rows, SIZE);
    expect(rows).toHaveLength(SIZE);
    checkTypes(dataset, rows);
  });

  it("every variable has values for a realistic share of patients, and the nullable ones some NULLs", () => {
    // Never NULL: what the population guarantees (a registration, a diagnosis,
    // a date of birth and sex), and counts and exists, which are never NULL.
    const always = ["age", "age_band", "sex", "practice", "registered_since", "first_diabetes_date", "diabetes_codes", "hba1c_tests_last_year", "hypertension", "insulin_issues_last_year", "on_statin"];
    // Usually recorded for a cohort like this one, but missing for some: at
    // least a fifth have a value, so that the definition's logic for them is
    // exercised, and not nearly all, as real records have gaps.
    const common = ["imd_rounded", "latest_hba1c", "latest_hba1c_date", "latest_bmi", "max_systolic", "smoking_status", "first_metformin"];
    // Rarer in life: a registration that has ended since the index date, a
    // death. Real cohorts have a few percent of deaths over a few years; dummy
    // data has more, so that death variables have values to test with, but
    // well below half.
    const ranges: Record<string, [number, number]> = {
      registration_ends: [0.05, 0.8],
      date_of_death: [0.05, 0.3],
      ons_death_date: [0.05, 0.3],
      cardiovascular_death: [0.05, 0.3],
    };
    expect(new Set([...always, ...common, ...Object.keys(ranges)])).toEqual(new Set(names));
    for (const name of always) expect(nonNull(name), name).toBe(1);
    for (const name of common) within(name, nonNull(name), 0.2, 0.97);
    for (const [name, [lo, hi]] of Object.entries(ranges)) within(name, nonNull(name), lo, hi);
  });

  it("realistic variety: several events for many, counts that are sometimes 0, both answers of a yes/no, ages across the bands", () => {
    const share = (name: string, test: (v: Row[number]) => boolean): number => column(name).filter(test).length / rows.length;
    expect(share("diabetes_codes", (v) => (v as number) > 1)).toBeGreaterThan(0.2);
    for (const name of ["hba1c_tests_last_year", "insulin_issues_last_year"]) {
      within(name, share(name, (v) => (v as number) > 0), 0.1, 0.9);
    }
    for (const name of ["hypertension", "on_statin"]) within(name, share(name, (v) => v === true), 0.05, 0.95);
    for (const band of ["18-39", "40-59", "60-74", "75-89"]) within(band, share("age_band", (v) => v === band), 0.1, 0.5);
    for (const sex of ["female", "male"]) expect(share("sex", (v) => v === sex), sex).toBeGreaterThan(0.35);
    expect(new Set(column("smoking_status")).size).toBe(4); // current, former, never and NULL
    // Ties: some patients have two clinical events on one day.
    const days = new Set<string>();
    let ties = 0;
    for (const r of generated.rows.clinical_events!) {
      const key = `${r[0]}|${r[1]}`;
      if (r[1] !== null && days.has(key)) ties++;
      days.add(key);
    }
    expect(ties).toBeGreaterThan(SIZE / 20);
  });

  it("tables agree: events and registrations within each life, an ONS death on the date of death, registrations one after another", () => {
    const at = (table: string, col: string): number => generated.tables.find((t) => t.name === table)!.columns.findIndex((c) => c.name === col) + 1;
    const life = new Map(generated.rows.patients!.map((r) => [r[0] as number, { birth: r[at("patients", "date_of_birth")] as string, death: r[at("patients", "date_of_death")] as string | null }]));
    let dated = 0;
    for (const [table, cols] of [["clinical_events", ["date"]], ["medications", ["date"]], ["practice_registrations", ["start_date", "end_date"]], ["addresses", ["start_date", "end_date"]]] as const) {
      for (const r of generated.rows[table]!) {
        const { birth, death } = life.get(r[0] as number)!;
        for (const c of cols) {
          const d = r[at(table, c)] as string | null;
          if (d === null) continue;
          dated++;
          if (d < birth || (death !== null && d > death)) expect.fail(`${table}.${c} ${d} of patient ${r[0]} is outside ${birth} to ${death}`);
        }
      }
    }
    expect(dated).toBeGreaterThan(SIZE * 5);

    const onsDate = new Map(generated.rows.ons_deaths!.map((r) => [r[0] as number, r[at("ons_deaths", "date")]]));
    expect(onsDate.size).toBeGreaterThan(SIZE * 0.05);
    for (const [pid, d] of onsDate) expect(d).toBe(life.get(pid)!.death);

    const registrations = new Map<number, Row[]>();
    for (const r of generated.rows.practice_registrations!) registrations.set(r[0] as number, [...(registrations.get(r[0] as number) ?? []), r]);
    const start = at("practice_registrations", "start_date"), end = at("practice_registrations", "end_date");
    let several = 0;
    for (const list of registrations.values()) {
      const sorted = [...list].sort((a, b) => ((a[start] as string) < (b[start] as string) ? -1 : 1));
      if (sorted.length > 1) several++;
      for (let i = 0; i < sorted.length; i++) {
        const e = sorted[i]![end] as string | null;
        if (e !== null) expect(e >= (sorted[i]![start] as string)).toBe(true);
        if (i + 1 < sorted.length) expect(e !== null && e < (sorted[i + 1]![start] as string)).toBe(true);
      }
    }
    expect(several).toBeGreaterThan(SIZE / 10);
  });

  it("is deterministic for a seed, and differs for another", async () => {
    const again = await generateTablesFor(dataset.population, dataset.variables.map((v) => v.series), { populationSize: SIZE, seed: 1 });
    expect(again.rows).toEqual(generated.rows);
    const other = await generateTablesFor(dataset.population, dataset.variables.map((v) => v.series), { populationSize: SIZE, seed: 2 });
    expect(other.rows.patients).not.toEqual(generated.rows.patients);
    expect(other.rows.clinical_events).not.toEqual(generated.rows.clinical_events);
  });

  it("does not depend on today's date", async () => {
    for (const today of ["1999-12-31T23:59:59Z", "2101-06-15T12:00:00Z"]) {
      vi.useFakeTimers({ now: new Date(today), toFake: ["Date"] });
      expect(new Date().toISOString().slice(0, 4)).toBe(today.slice(0, 4));
      const then = await generateTablesFor(dataset.population, dataset.variables.map((v) => v.series), { populationSize: SIZE, seed: 1 });
      vi.useRealTimers();
      expect(then.rows).toEqual(generated.rows);
    }
  });
});

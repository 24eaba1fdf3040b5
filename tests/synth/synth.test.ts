// The synthetic backend: deterministic by seed, every core and TPP table with
// the right columns and valid values, plausible shares and counts, and real
// definitions running on what it writes (SQLite and DuckDB databases, and a
// folder of CSV.gz files read by the memory engine).

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileTableReader, parseTableCsv } from "../../src/engines/files/index.js";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import { DuckdbConnection, PostgresConnection, SqlEngine, SqliteConnection } from "../../src/engines/sql/index.js";
import type { Engine, Row, TableSpec } from "../../src/engines/types.js";
import type { Dataset as QDataset, ScalarType } from "../../src/querymodel/index.js";
import { isValidCode, parseIsoDate } from "../../src/querymodel/types.js";
import { createDataset } from "../../src/language/index.js";
import * as core from "../../src/language/tables/core.js";
import * as tpp from "../../src/language/tables/tpp.js";
import { SynthError, synthesize } from "../../src/synth/index.js";
import { CONDITIONS, MEDICINES } from "../../src/synth/codes.js";
import { patternGenerator } from "../../src/synth/pattern.js";
import { Rng } from "../../src/synth/random.js";
import { PostgresArraySink, arrayLiteral, csvRows } from "../../src/synth/sinks.js";
import { formatCell, csvLine } from "../../src/engines/files/index.js";

const PATIENTS = 2000;
const POSTGRES_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;
const SEED = 7;
const FRAME = Symbol.for("enclave.frame");

// ---------------------------------------------------------------------------
// What the table modules define, read independently of src/synth.
// ---------------------------------------------------------------------------

interface Expected {
  name: string;
  patientLevel: boolean;
  schema: Record<string, ScalarType>;
}

function tablesOf(modules: object[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const m of modules) {
    for (const v of Object.values(m)) {
      const node = typeof v === "object" && v !== null ? (v as Record<symbol, { kind?: string; name?: string; schema?: Record<string, ScalarType> }>)[FRAME] : undefined;
      if (!node || (node.kind !== "SelectTable" && node.kind !== "SelectPatientTable")) continue;
      const known = out.get(node.name!);
      out.set(node.name!, { name: node.name!, patientLevel: node.kind === "SelectPatientTable", schema: { ...known?.schema, ...node.schema } });
    }
  }
  return out;
}
const CORE = tablesOf([core]);
const ALL = tablesOf([core, tpp]);
const OPT_OUTS = ["patients_with_type_one_dissent", "patients_without_ndoo"];

// Constraints as the TPP module describes them (stored column → constraints).
type Constraints = { notNull?: boolean; categories?: readonly unknown[]; firstOfMonth?: boolean; range?: readonly [number, number]; step?: number; regex?: string };
function constraintsOf(table: string): Map<string, Constraints> {
  const described = (tpp as { tppTables?: Record<string, { columns: Record<string, readonly [string, string, Constraints?]> }> }).tppTables?.[table];
  return new Map(Object.values(described?.columns ?? {}).flatMap(([stored, , k]) => (k ? [[stored, k] as const] : [])));
}

// ---------------------------------------------------------------------------
// Fixtures: three folders (two with one seed, one with another), a core-only
// folder, a SQLite file and an in-memory DuckDB database.
// ---------------------------------------------------------------------------

let root: string;
let dirA: string;
let dirB: string;
let dirOther: string;
let dirCore: string;
let sqliteFile: string;
let counts: Record<string, number>;
const tables = new Map<string, Row[]>();

function readTable(dir: string, spec: TableSpec): Row[] {
  const file = join(dir, `${spec.name}.csv.gz`);
  return parseTableCsv(file, gunzipSync(readFileSync(file)).toString("utf8"), spec);
}
function header(dir: string, table: string): string[] {
  return gunzipSync(readFileSync(join(dir, `${table}.csv.gz`))).toString("utf8").split("\n", 1)[0]!.split(",");
}
function rowsOf(table: string): Row[] {
  const spec = ALL.get(table) ?? { name: table, schema: {}, patientLevel: true };
  let rows = tables.get(table);
  if (!rows) tables.set(table, (rows = readTable(dirA, spec)));
  return rows;
}
/** The position of a column in a row read with the frames' schema (patient_id is 0). */
function at(table: string, name: string): number {
  const i = Object.keys(ALL.get(table)!.schema).indexOf(name);
  if (i < 0) throw new Error(`no column ${table}.${name}`);
  return i + 1;
}
function column(table: string, name: string): unknown[] {
  const i = Object.keys(ALL.get(table)!.schema).indexOf(name);
  expect(i, `${table}.${name}`).toBeGreaterThanOrEqual(0);
  return rowsOf(table).map((r) => r[i + 1]);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "enclave-synth-test-"));
  [dirA, dirB, dirOther, dirCore] = ["a", "b", "other", "core"].map((d) => join(root, d)) as [string, string, string, string];
  counts = (await synthesize({ patients: PATIENTS, seed: SEED, output: dirA })).tables;
  await synthesize({ patients: PATIENTS, seed: SEED, output: dirB, blockSize: 333 });
  await synthesize({ patients: PATIENTS, seed: SEED + 1, output: dirOther });
  await synthesize({ patients: 300, seed: SEED, output: dirCore, tables: "core" });
  sqliteFile = join(root, "synth.sqlite");
  writeFileSync(sqliteFile, ""); // SqliteConnection opens only existing files
  const conn = new SqliteConnection(sqliteFile);
  try {
    await synthesize({ patients: PATIENTS, seed: SEED, connection: conn });
  } finally {
    await conn.close();
  }
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

describe("determinism", () => {
  it("gives byte-identical files for the same seed, whatever the block size", () => {
    const files = readdirSync(dirA).sort();
    expect(readdirSync(dirB).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(dirB, f)).equals(readFileSync(join(dirA, f))), f).toBe(true);
  });
  it("gives different data for another seed", () => {
    for (const f of ["patients.csv.gz", "clinical_events.csv.gz", "practice_registrations.csv.gz"]) {
      expect(readFileSync(join(dirOther, f)).equals(readFileSync(join(dirA, f))), f).toBe(false);
    }
  });
  it("takes a seed of digits as the number it spells (and gives the same patients with the core tables only)", async () => {
    const dir = join(root, "seed-string");
    await synthesize({ patients: PATIENTS, seed: String(SEED), output: dir, tables: "core" });
    expect(readFileSync(join(dir, "patients.csv.gz")).equals(readFileSync(join(dirA, "patients.csv.gz")))).toBe(true);
  });
  it("leaves no temporary files behind", () => {
    expect(readdirSync(dirA).filter((f) => !f.endsWith(".csv.gz"))).toEqual([]);
  });
});

describe("tables and columns", () => {
  it("writes every core and TPP table, and the two opt-out lists", () => {
    expect(ALL.size).toBeGreaterThan(20);
    const written = readdirSync(dirA).map((f) => f.replace(/\.csv\.gz$/, ""));
    expect(written.sort()).toEqual([...ALL.keys(), ...OPT_OUTS].sort());
    expect(Object.keys(counts).sort()).toEqual(written.sort());
  });
  it("gives each table patient_id and exactly the columns its frames define", () => {
    for (const t of ALL.values()) {
      const h = header(dirA, t.name);
      expect(h[0], t.name).toBe("patient_id");
      expect(h.slice(1).sort(), t.name).toEqual(Object.keys(t.schema).sort());
    }
    for (const t of OPT_OUTS) expect(header(dirA, t)).toEqual(["patient_id"]);
  });
  it("writes only the core tables, with the core columns, when asked", () => {
    const written = readdirSync(dirCore).map((f) => f.replace(/\.csv\.gz$/, ""));
    expect(written.sort()).toEqual([...CORE.keys(), ...OPT_OUTS].sort());
    expect(header(dirCore, "clinical_events")).toEqual(["patient_id", ...Object.keys(CORE.get("clinical_events")!.schema)]);
    const events = readTable(dirCore, { ...CORE.get("clinical_events")!, patientLevel: false });
    expect(events.every((r) => r[2] !== null)).toBe(true);
  });
  it("puts something in every table", () => {
    for (const t of ALL.keys()) expect(counts[t], t).toBeGreaterThan(0);
  });
});

describe("values", () => {
  it("parses every table as its types say (real dates, valid codes, one row per patient in patient tables)", () => {
    for (const t of ALL.values()) expect(() => rowsOf(t.name), t.name).not.toThrow();
  });
  it("keeps every value within its column's constraints", () => {
    for (const t of ALL.values()) {
      for (const [col, k] of constraintsOf(t.name)) {
        if (!(col in t.schema)) continue;
        const values = column(t.name, col);
        const label = `${t.name}.${col}`;
        if (k.notNull) expect(values.filter((v) => v === null).length, label).toBe(0);
        const present = values.filter((v) => v !== null);
        if (k.categories) expect(present.filter((v) => !k.categories!.includes(v)), label).toEqual([]);
        if (k.firstOfMonth) expect(present.filter((v) => !String(v).endsWith("-01")), label).toEqual([]);
        if (k.range) expect(present.filter((v) => (v as number) < k.range![0] || (v as number) > k.range![1] || (k.step ? (v as number) % k.step !== 0 : false)), label).toEqual([]);
        if (k.regex) expect(present.filter((v) => !new RegExp(`^(?:${k.regex})$`).test(String(v))), label).toEqual([]);
      }
    }
  });
  it("gives code columns valid codes, and fills most of them", () => {
    for (const t of ALL.values()) {
      for (const [col, type] of Object.entries(t.schema)) {
        if (!["snomedct", "ctv3", "icd10", "opcs4", "dmd", "bnf"].includes(type)) continue;
        const present = column(t.name, col).filter((v) => v !== null) as string[];
        expect(present.filter((c) => !isValidCode(type as "snomedct", c)), `${t.name}.${col}`).toEqual([]);
      }
    }
    expect(column("clinical_events", "snomedct_code").filter((v) => v !== null).length).toBeGreaterThan(PATIENTS * 10);
  });
  it("keeps dates within the record: none after 2025-12-31, none before birth", () => {
    const born = new Map(rowsOf("patients").map((r) => [r[0] as number, r[at("patients", "date_of_birth")] as string]));
    for (const t of ALL.values()) {
      for (const [col, type] of Object.entries(t.schema)) {
        if (type !== "date" || col === "date_of_birth" || col === "practice_systmone_go_live_date") continue;
        const i = at(t.name, col);
        const bad = rowsOf(t.name).filter((r) => r[i] !== null && ((r[i] as string) > "2025-12-31" || (r[i] as string) < born.get(r[0] as number)!));
        expect(bad.slice(0, 3), `${t.name}.${col}`).toEqual([]);
      }
    }
  });
  it("uses SNOMED CT and dm+d identifiers with valid check digits", () => {
    const codes = new Set([...(column("clinical_events", "snomedct_code") as (string | null)[]), ...(column("medications", "dmd_code") as (string | null)[])].filter((c): c is string => c !== null));
    codes.add(CONDITIONS[0]!.codes[0]!.snomed);
    for (const c of Object.values(MEDICINES)) codes.add(c);
    expect([...codes].filter((c) => !verhoeff(c) || !(c.at(-2) === "0" || c.slice(-3, -1) === "10"))).toEqual([]);
  });
});

describe("plausibility", () => {
  it("has an age pyramid like England's, with birth dates on the first of a month", () => {
    const ages = rowsOf("patients").map((r) => age(r[at("patients", "date_of_birth")] as string, "2025-12-31"));
    const share = (f: (a: number) => boolean) => ages.filter(f).length / ages.length;
    expect(share((a) => a < 16)).toBeGreaterThan(0.14);
    expect(share((a) => a < 16)).toBeLessThan(0.24);
    expect(share((a) => a >= 65)).toBeGreaterThan(0.13);
    expect(share((a) => a >= 65)).toBeLessThan(0.3);
    expect(Math.max(...ages)).toBeLessThan(112);
    const sexes = column("patients", "sex");
    expect(sexes.filter((s) => s === "female").length / PATIENTS).toBeGreaterThan(0.45);
    expect(sexes.filter((s) => s === "male").length / PATIENTS).toBeGreaterThan(0.45);
  });
  it("records deaths for a few patients, older ones more, mostly with the same ONS date and a cause", () => {
    const patients = rowsOf("patients");
    const [dob, dod] = [at("patients", "date_of_birth"), at("patients", "date_of_death")];
    const dead = patients.filter((r) => r[dod] !== null);
    expect(dead.length / PATIENTS).toBeGreaterThan(0.03);
    expect(dead.length / PATIENTS).toBeLessThan(0.15);
    const meanAge = (rows: Row[]) => rows.reduce((s, r) => s + age(r[dob] as string, (r[dod] as string | null) ?? "2025-12-31"), 0) / rows.length;
    expect(meanAge(dead)).toBeGreaterThan(meanAge(patients) + 20);
    const ons = new Map(rowsOf("ons_deaths").map((r) => [r[0], r]));
    expect(dead.filter((r) => ons.get(r[0])?.[at("ons_deaths", "date")] === r[dod]).length / dead.length).toBeGreaterThan(0.8);
    expect(column("ons_deaths", "underlying_cause_of_death").every((c) => c !== null)).toBe(true);
    expect(column("ons_deaths", "cause_of_death_01").every((c) => c !== null)).toBe(true);
  });
  it("opts out about 3% (type 1) and lists about 95% as without a national data opt-out", () => {
    const t1 = counts.patients_with_type_one_dissent! / PATIENTS;
    const without = counts.patients_without_ndoo! / PATIENTS;
    expect(t1).toBeGreaterThan(0.015);
    expect(t1).toBeLessThan(0.05);
    expect(without).toBeGreaterThan(0.92);
    expect(without).toBeLessThan(0.98);
  });
  it("registers everyone with 1–4 practices, from a pool of practices, with gaps, transfers and current registrations", () => {
    const regs = rowsOf("practice_registrations");
    const [start, end, practice] = ["start_date", "end_date", "practice_pseudo_id"].map((c) => at("practice_registrations", c)) as [number, number, number];
    const byPatient = new Map<number, Row[]>();
    for (const r of regs) byPatient.set(r[0] as number, [...(byPatient.get(r[0] as number) ?? []), r]);
    expect(byPatient.size).toBe(PATIENTS);
    const sizes = [...byPatient.values()].map((rs) => rs.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(regs.length / PATIENTS).toBeGreaterThan(1.2);
    let gaps = 0;
    let transfers = 0;
    let moves = 0;
    for (const rs of byPatient.values()) {
      for (let i = 1; i < rs.length; i++) {
        const before = rs[i - 1]!;
        const after = rs[i]!;
        const gap = days(after[start] as string) - days(before[end] as string);
        expect(gap, "registrations in order, not overlapping").toBeGreaterThanOrEqual(1);
        if (gap === 1) transfers++;
        else gaps++;
        if (after[practice] !== before[practice]) moves++;
      }
      for (const r of rs) expect(r[end] === null || (r[end] as string) >= (r[start] as string)).toBe(true);
    }
    expect(gaps).toBeGreaterThan(PATIENTS * 0.05);
    expect(transfers).toBeGreaterThan(PATIENTS * 0.05);
    expect(moves).toBeGreaterThan((gaps + transfers) * 0.9);
    expect(column("practice_registrations", "end_date").filter((e) => e === null).length / PATIENTS).toBeGreaterThan(0.7);
    const practices = new Set(column("practice_registrations", "practice_pseudo_id"));
    expect(practices.size).toBeGreaterThan(500);
    expect(practices.size).toBeLessThanOrEqual(1000);
  });
  it("records about 20 clinical events per patient, each twice (CTV3 and SNOMED CT), skewed", () => {
    const events = rowsOf("clinical_events");
    const [sc, cc] = [at("clinical_events", "snomedct_code"), at("clinical_events", "ctv3_code")];
    const snomed = events.filter((r) => r[sc] !== null);
    const ctv3 = events.filter((r) => r[cc] !== null);
    expect(events.every((r) => (r[sc] === null) !== (r[cc] === null))).toBe(true);
    expect(ctv3.length).toBe(snomed.length);
    expect(snomed.length / PATIENTS).toBeGreaterThan(16);
    expect(snomed.length / PATIENTS).toBeLessThan(25);
    const perPatient = new Map<number, number>();
    for (const r of snomed) perPatient.set(r[0] as number, (perPatient.get(r[0] as number) ?? 0) + 1);
    const sorted = [...perPatient.values()].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    expect(median).toBeLessThan(snomed.length / PATIENTS); // a long right tail
    expect(Math.max(...sorted)).toBeGreaterThan(80);
    // Common codes show up, from a pool of a few hundred.
    const codes = new Set(snomed.map((r) => r[sc]));
    for (const c of ["38341003", "44054006", "195967001", "271649006", "1049301000000100", "60621009", "77176002"]) expect(codes.has(c), c).toBe(true);
    expect(codes.size).toBeGreaterThan(100);
  });
  it("mostly dates events within a registration", () => {
    const regs = new Map<number, [string, string | null][]>();
    const [start, end, date] = [at("practice_registrations", "start_date"), at("practice_registrations", "end_date"), at("clinical_events", "date")];
    for (const r of rowsOf("practice_registrations")) regs.set(r[0] as number, [...(regs.get(r[0] as number) ?? []), [r[start] as string, r[end] as string | null]]);
    const events = rowsOf("clinical_events");
    const inside = events.filter((r) => regs.get(r[0] as number)!.some(([s, e]) => (r[date] as string) >= s && (e === null || (r[date] as string) <= e)));
    expect(inside.length / events.length).toBeGreaterThan(0.95);
  });
  it("gives measurements plausible values", () => {
    const [sc, nv] = [at("clinical_events", "snomedct_code"), at("clinical_events", "numeric_value")];
    const values = (code: string) => rowsOf("clinical_events").filter((r) => r[sc] === code).map((r) => r[nv] as number);
    const check = (code: string, lo: number, hi: number, meanLo: number, meanHi: number) => {
      const v = values(code);
      expect(v.length, code).toBeGreaterThan(50);
      expect(v.every((x) => x !== null && x >= lo && x <= hi), code).toBe(true);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      expect(mean, code).toBeGreaterThan(meanLo);
      expect(mean, code).toBeLessThan(meanHi);
    };
    check("271649006", 70, 240, 115, 150); // systolic blood pressure
    check("271650006", 40, 140, 65, 90); // diastolic
    check("60621009", 11, 70, 20, 32); // BMI
    check("1049301000000100", 18, 150, 34, 50); // HbA1c, mmol/mol
    expect(rowsOf("clinical_events").filter((r) => r[sc] === "38341003").every((r) => r[nv] === null)).toBe(true);
  });
  it("prescribes about five medicines per patient", () => {
    const perPatient = counts.medications! / PATIENTS;
    expect(perPatient).toBeGreaterThan(3.5);
    expect(perPatient).toBeLessThan(7);
  });
  it("links hospital tables by their identifiers, with admission before discharge", () => {
    const apcs = rowsOf("apcs");
    expect(apcs.every((r) => (r[at("apcs", "admission_date")] as string) <= (r[at("apcs", "discharge_date")] as string))).toBe(true);
    const idents = new Set<unknown>(apcs.map((r) => r[at("apcs", "apcs_ident")]));
    expect(idents.size).toBe(apcs.length);
    const costIdents = column("apcs_cost", "apcs_ident");
    expect(costIdents.every((i) => idents.has(i))).toBe(true);
    const opaIdents = new Set(column("opa", "opa_ident"));
    expect(column("opa_cost", "opa_ident").every((i) => opaIdents.has(i))).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// Definitions on the synthetic backend
// ---------------------------------------------------------------------------

function definition(): QDataset {
  const { clinicalEvents, patients, practiceRegistrations } = core;
  const index = "2024-01-01";
  const ds = createDataset();
  ds.definePopulation(practiceRegistrations.existsForPatientOn(index).and(patients.isAliveOn(index)));
  ds.addColumn("age", patients.ageOn(index));
  ds.addColumn("sex", patients.sex);
  ds.addColumn("practice", practiceRegistrations.forPatientOn(index).practicePseudoId);
  const before = clinicalEvents.where(clinicalEvents.date.isOnOrBefore(index));
  ds.addColumn("hypertension", before.where(before.snomedctCode.isIn(["38341003", "59621000"])).existsForPatient());
  const sbp = before.where(before.snomedctCode.eq("271649006")).sortBy(before.date);
  ds.addColumn("last_sbp", sbp.lastForPatient().numericValue);
  ds.addColumn("events", before.countForPatient());
  return ds.toQueryModel();
}

async function run(engine: Engine, dataset: QDataset): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const batch of engine.execute(dataset)) rows.push(...batch);
  return rows;
}

describe("definitions on the synthetic backend", () => {
  it("gives the same, plausible answers on SQLite and on the CSV files with the memory engine", async () => {
    const dataset = definition();
    const sqlite = await run(new SqlEngine("sqlite", async () => new SqliteConnection(sqliteFile, { readonly: true })), dataset);
    const memory = await run(new MemoryEngine(new FileTableReader(dirA)), dataset);
    expect(sqlite).toEqual(memory);

    expect(sqlite.length / PATIENTS).toBeGreaterThan(0.7);
    expect(sqlite.length / PATIENTS).toBeLessThan(0.97);
    const ages = sqlite.map((r) => r[1] as number);
    expect(ages.filter((a) => a >= 0 && a <= 110).length / ages.length).toBeGreaterThan(0.99);
    const older = sqlite.filter((r) => (r[1] as number) >= 45);
    const hypertensive = older.filter((r) => r[4] === true).length / older.length;
    expect(hypertensive).toBeGreaterThan(0.15);
    expect(hypertensive).toBeLessThan(0.6);
    const sbp = sqlite.map((r) => r[5]).filter((v): v is number => v !== null);
    expect(sbp.reduce((a, b) => a + b, 0) / sbp.length).toBeGreaterThan(110);
  }, 60_000);

  it("applies the opt-outs on a backend: about 3% and 5% fewer patients", async () => {
    const dataset = definition();
    const all = await run(new SqlEngine("sqlite", async () => new SqliteConnection(sqliteFile, { readonly: true }), { backend: { permissions: ["include_t1oo", "include_ndoo"] } }), dataset);
    const scoped = await run(new SqlEngine("sqlite", async () => new SqliteConnection(sqliteFile, { readonly: true }), { backend: { permissions: [] } }), dataset);
    const dropped = 1 - scoped.length / all.length;
    expect(dropped).toBeGreaterThan(0.04);
    expect(dropped).toBeLessThan(0.13);
  }, 60_000);

  it("loads DuckDB in bulk with the same rows, and answers alike", async () => {
    const conn = await DuckdbConnection.open();
    const written = (await synthesize({ patients: PATIENTS, seed: SEED, connection: conn })).tables;
    expect(written).toEqual(counts);
    for await (const [[n]] of conn.query("SELECT COUNT(*) FROM clinical_events WHERE ctv3_code IS NOT NULL")) expect(Number(n)).toBe(counts.clinical_events! / 2);
    for await (const [[n]] of conn.query("SELECT COUNT(*) FROM patients WHERE date_of_birth > DATE '2025-12-31'")) expect(Number(n)).toBe(0);
    const duck = await run(new SqlEngine("duckdb", async () => conn), definition());
    const memory = await run(new MemoryEngine(new FileTableReader(dirA)), definition());
    expect(duck).toEqual(memory);
  }, 60_000);

  it("appends to DuckDB through insertRows when asked, with the same rows", async () => {
    const conn = await DuckdbConnection.open();
    try {
      const written = (await synthesize({ patients: 300, seed: SEED, connection: conn, bulkLoad: false, tables: "core" })).tables;
      for await (const [[n]] of conn.query("SELECT COUNT(*) FROM clinical_events")) expect(Number(n)).toBe(written.clinical_events);
    } finally {
      await conn.close();
    }
  }, 30_000);
});

describe.skipIf(!POSTGRES_URL)("PostgreSQL", () => {
  it("loads in bulk and through insertRows alike, and answers as the memory engine does", async () => {
    const dir = join(root, "pg-csv");
    const n = 500;
    const expected = (await synthesize({ patients: n, seed: SEED, output: dir })).tables;
    const memory = await run(new MemoryEngine(new FileTableReader(dir)), definition());
    for (const bulkLoad of [true, false]) {
      const conn = await PostgresConnection.open(POSTGRES_URL!, { scratch: true });
      const written = (await synthesize({ patients: n, seed: SEED, connection: conn, bulkLoad })).tables;
      expect(written).toEqual(expected);
      for await (const [[products]] of conn.query("SELECT COUNT(DISTINCT product_name) FROM vaccinations WHERE product_name LIKE '%(%' AND product_name LIKE '%&%'")) {
        expect(Number(products), "product names with parentheses and ampersands arrive whole").toBeGreaterThan(0);
      }
      // The engine closes the connection (and drops the scratch schema).
      expect(await run(new SqlEngine("postgres", async () => conn), definition())).toEqual(memory);
    }
  }, 120_000);

  it("inserts awkward text, numbers, dates and booleans exactly", async () => {
    const conn = await PostgresConnection.open(POSTGRES_URL!, { scratch: true });
    try {
      const spec: TableSpec = { name: "awkward", schema: { s: "str", f: "float", d: "date", b: "bool" }, patientLevel: false };
      const rows: Row[] = [
        [1, `it's "quoted", {braced}, back\\slashed\nand ünïcode`, 1e-7, "2024-02-29", true],
        [2, "NULL", -0.5, null, false],
        [3, null, null, "1900-01-01", null],
      ];
      const sink = new PostgresArraySink(conn);
      await sink.open([spec]);
      await sink.write([rows]);
      await sink.close();
      const back: unknown[][] = [];
      for await (const batch of conn.query("SELECT patient_id, s, f, d, b FROM awkward ORDER BY patient_id")) back.push(...batch);
      expect(back).toEqual(rows.map((r) => [...r]));
    } finally {
      await conn.close();
    }
  });
});

describe("options", () => {
  it("refuses bad options", async () => {
    await expect(synthesize({ patients: -1, output: join(root, "x") })).rejects.toThrow(SynthError);
    await expect(synthesize({ patients: 1.5, output: join(root, "x") })).rejects.toThrow(/whole number/);
    await expect(synthesize({ patients: 10 })).rejects.toThrow(/either an output folder or a database connection/);
  });
  it("refuses a database that already has the tables", async () => {
    const conn = await DuckdbConnection.open();
    try {
      await synthesize({ patients: 5, connection: conn, tables: "core" });
      await expect(synthesize({ patients: 5, connection: conn, tables: "core" })).rejects.toThrow(/already has a table/);
    } finally {
      await conn.close();
    }
  });
  it("refuses a folder holding a plain CSV of a table it would write", async () => {
    const dir = join(root, "plain");
    await synthesize({ patients: 0, output: dir, tables: "core" });
    writeFileSync(join(dir, "patients.csv"), "patient_id\n");
    await expect(synthesize({ patients: 5, output: dir, tables: "core" })).rejects.toThrow(/patients\.csv exists/);
  });
  it("reports progress", async () => {
    const messages: string[] = [];
    await synthesize({ patients: 600, output: join(root, "progress"), tables: "core", blockSize: 50, onProgress: (m) => messages.push(m) });
    expect(messages.some((m) => m.includes("600 of 600 patients"))).toBe(true);
  });
});

describe("building blocks", () => {
  it("makes strings that match the schema's patterns, and refuses what it cannot", () => {
    const rng = new Rng(1);
    for (const p of ["E020[0-9]{5}", "[a-zA-Z]{2}[0-9]{2}[a-zA-Z]", "[a-zA-Z0-9]{3}", "E540000[0-9]{2}", "(?:ab|c\\.d)+x?", "\\d{2,4}-[A-F]"]) {
      const gen = patternGenerator(p);
      const re = new RegExp(`^(?:${p})$`);
      for (let i = 0; i < 200; i++) expect(gen(rng), p).toMatch(re);
    }
    for (const p of ["(?=a)b", "[^a]", "a\\bc", "(ab"]) expect(() => patternGenerator(p), p).toThrow(/cannot generate/);
  });
  it("writes CSV cells as formatCell and csvLine do", () => {
    const types = ["bool", "int", "float", "float", "str", "date", "snomedct"] as const;
    const rows: Row[] = [
      [1, true, 0, 58, 1.5, 'a "quoted", text', "2024-02-29", "38341003"],
      [2, false, -7, 1e20, -0.25, "plain", null, null],
      [3, null, null, null, null, null, "1900-01-01", "1049301000000100"],
    ];
    const expected = rows.map((r) => csvLine([String(r[0]), ...types.map((t, i) => formatCell(r[i + 1]!, t))])).join("");
    expect(csvRows(rows, [...types])).toBe(expected);
  });
  it("writes PostgreSQL array literals with quotes and backslashes escaped", () => {
    const rows: Row[] = [[1, 'say "hi"\\now', true], [2, null, false], [3, "{a,b}", null]];
    expect(arrayLiteral(rows, 0, "int")).toBe("{1,2,3}");
    expect(arrayLiteral(rows, 1, "str")).toBe('{"say \\"hi\\"\\\\now",NULL,"{a,b}"}');
    expect(arrayLiteral(rows, 2, "bool")).toBe("{t,f,NULL}");
  });
});

// ---------------------------------------------------------------------------

function days(iso: string): number {
  return parseIsoDate(iso)!;
}
function age(dob: string, on: string): number {
  const [y1, m1, d1] = dob.split("-").map(Number) as [number, number, number];
  const [y2, m2, d2] = on.split("-").map(Number) as [number, number, number];
  return y2 - y1 - (m2 < m1 || (m2 === m1 && d2 < d1) ? 1 : 0);
}

// SNOMED CT identifiers end in a Verhoeff check digit.
const D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1], [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]];
const P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1], [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]];
function verhoeff(code: string): boolean {
  let c = 0;
  const digits = code.split("").reverse().map(Number);
  for (let i = 0; i < digits.length; i++) c = D[c]![P[i % 8]![digits[i]!]!]!;
  return c === 0;
}

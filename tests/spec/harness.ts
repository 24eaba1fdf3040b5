// The spec harness. Every case in tests/spec is one small, table-driven example
// of the query language: tables written as text, one expression built with the
// public API exactly as a researcher writes it, and the value expected for each
// patient. The runner (spec.test.ts) turns each case into a dataset whose
// population is "every patient who appears in the given tables" and whose one
// variable `v` is the expression, runs it on every engine in ENGINES, and
// compares the result patient by patient.
//
// To put a new engine under the whole specification, add an entry to ENGINES.

import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { createDataset, eventTable, patientTable, setLoadContext } from "../../src/language/index.js";
import { MemoryEngine } from "../../src/engines/memory/index.js";
import { RowsTableReader } from "../../src/engines/files/index.js";
import type { Row } from "../../src/engines/types.js";
import { DuckdbConnection, PostgresConnection, SqlEngine, SqliteConnection, type SqlConnection } from "../../src/engines/sql/index.js";
import {
  type Dataset as QueryModelDataset,
  type Scalar,
  type ScalarType,
  type Schema,
  type SeriesType,
  AGGREGATIONS,
  FUNCTIONS,
  isIsoDate,
  walk,
} from "../../src/querymodel/index.js";

// ==========================================================================
// THE SPEC TABLES
// ==========================================================================
//
// One patient table and one event table with the same columns: two of each
// value type, and one column per kind of code.

const COLUMNS = {
  b1: "bool",
  b2: "bool",
  i1: "int",
  i2: "int",
  f1: "float",
  f2: "float",
  s1: "str",
  s2: "str",
  d1: "date",
  d2: "date",
  c1: "snomedct",
  k1: "ctv3",
  m1: "icd10multi",
} as const;

export const p = patientTable("p", COLUMNS);
export const e = eventTable("e", COLUMNS);
/** A second event table, for the cases that combine two tables (errors only: no data). */
export const f = eventTable("f", COLUMNS);

const SCHEMAS: Record<TableName, Schema> = { p: COLUMNS, e: COLUMNS };
type TableName = "p" | "e";

// ==========================================================================
// TYPES
// ==========================================================================

type LanguageDataset = ReturnType<typeof createDataset>;
/** Whatever `addColumn` accepts: a patient series. */
export type VariableSeries = Parameters<LanguageDataset["addColumn"]>[1];
/** Whatever `definePopulation` accepts: a bool patient series. */
export type PopulationSeries = Parameters<LanguageDataset["definePopulation"]>[0];

export interface SpecCase {
  /** What the case shows, in a few words; unique in its section. */
  name: string;
  /** Table data in the text form (see parseTable); a table not given is empty. */
  tables: { p?: string; e?: string };
  /** The expression, built with the public API. Called when the case runs. */
  series: () => VariableSeries;
  /**
   * The value of `v` for each patient in the population. Without `population`,
   * every patient who appears in the tables, and no other, must be listed.
   * Dates are ISO strings; floats are compared with a small tolerance.
   */
  expected: Record<number, Scalar>;
  /** The type `v` must have in the query model ("int" when a value must be an int). */
  type?: SeriesType;
  /** A population other than "patients in the tables"; `expected` then lists exactly its patients. */
  population?: () => PopulationSeries;
  /** Parameters, as given with `--param name=value`, set while the definition is built. */
  params?: Record<string, string>;
  /** The folder of the definition file, for relative codelist paths (default: tests/spec). */
  definitionDir?: string;
}

/** A misuse the contract says is refused when the definition is loaded. */
export interface ErrorCase {
  name: string;
  /** Builds the definition (as far as `toQueryModel()`, where relevant). Must throw. */
  build: () => unknown;
  /** The message must say what is wrong. */
  message: RegExp;
  params?: Record<string, string>;
}

export interface Section {
  name: string;
  cases?: SpecCase[];
  errors?: ErrorCase[];
}

export interface Chapter {
  name: string;
  sections: Section[];
}

/** The absolute path of a codelist file in tests/spec/codelists. */
export function codelistPath(name: string): string {
  return fileURLToPath(new URL(`./codelists/${name}`, import.meta.url));
}

/** Escapes the static types, to reach a run-time check that TypeScript would otherwise stop first. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function untyped(x: unknown): any {
  return x;
}

// ==========================================================================
// ENGINES
// ==========================================================================

export interface SpecEngine {
  name: string;
  /** Runs a query-model dataset over the given typed rows; returns every output row. */
  run(dataset: QueryModelDataset, tables: Record<string, Row[]>): Promise<Row[]>;
  /** The SQL engine itself over the given rows, for what `run` does not cover (measures' intervals). */
  sql?: (tables: Record<string, Row[]>) => SqlEngine;
}

async function collect(batches: AsyncIterable<Row[]>): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const batch of batches) rows.push(...batch);
  return rows;
}

function sqlEngine(name: string, connect: () => Promise<SqlConnection>): SpecEngine {
  const sql = (tables: Record<string, Row[]>) => new SqlEngine(name, connect, { tables: new RowsTableReader(tables) });
  return { name, run: (dataset, tables) => collect(sql(tables).execute(dataset)), sql };
}

/** The PostgreSQL server the tests use (`.ci/run` starts one and sets this). */
export const TEST_POSTGRES_URL = process.env.ENCLAVE_TEST_POSTGRES_URL;

export const ENGINES: SpecEngine[] = [
  {
    name: "memory",
    run: (dataset, tables) => collect(new MemoryEngine(new RowsTableReader(tables)).execute(dataset)),
  },
  sqlEngine("sqlite", async () => new SqliteConnection()),
  sqlEngine("duckdb", () => DuckdbConnection.open()),
  ...(TEST_POSTGRES_URL ? [sqlEngine("postgres", () => PostgresConnection.open(TEST_POSTGRES_URL, { scratch: true }))] : []),
];

// ==========================================================================
// TABLES AS TEXT
// ==========================================================================
//
//     patient | i1 | d1
//     1       | 10 | 2020-01-01
//     1       |    | 2021-02-03
//     2       | 7  |
//
// The first column is the patient id. An empty cell is NULL; booleans are T
// and F; `""` is the empty string. Columns not given are NULL. Lines of only
// `-`, `+` and `|` are ignored, so ehrQL-style rules may be drawn.

export function parseTable(text: string, schema: Schema): Row[] {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^[-+|\s]+$/.test(l));
  if (lines.length === 0) return [];
  const header = lines[0]!.split("|").map((c) => c.trim());
  const columns = header.slice(1);
  for (const c of columns) {
    if (!Object.hasOwn(schema, c)) throw new Error(`spec table: unknown column ${JSON.stringify(c)}`);
  }
  const names = Object.keys(schema);
  return lines.slice(1).map((line, i) => {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length > header.length) {
      throw new Error(`spec table line ${i + 2}: expected at most ${header.length} cells, found ${cells.length}: ${line}`);
    }
    const pid = Number(cells[0]);
    if (!Number.isSafeInteger(pid)) throw new Error(`spec table line ${i + 2}: bad patient id ${JSON.stringify(cells[0])}`);
    const byName = new Map(columns.map((c, j) => [c, cells[j + 1]!]));
    return [pid, ...names.map((n) => parseCell(byName.get(n) ?? "", schema[n]!, n))];
  });
}

function parseCell(cell: string, type: ScalarType, column: string): Scalar {
  if (cell === "") return null;
  const bad = (): never => {
    throw new Error(`spec table: ${JSON.stringify(cell)} is not a ${type} (column ${column})`);
  };
  switch (type) {
    case "bool":
      return cell === "T" ? true : cell === "F" ? false : bad();
    case "int":
      return /^-?\d+$/.test(cell) ? Number(cell) : bad();
    case "float":
      return Number.isFinite(Number(cell)) ? Number(cell) : bad();
    case "date":
      return isIsoDate(cell) ? cell : bad();
    default:
      return cell === '""' ? "" : cell;
  }
}

export function tableRows(tables: SpecCase["tables"]): Record<TableName, Row[]> {
  const out = { p: [], e: [] } as Record<TableName, Row[]>;
  for (const name of ["p", "e"] as const) {
    const text = tables[name];
    if (text !== undefined) out[name] = parseTable(text, SCHEMAS[name]);
  }
  const seen = new Set<Scalar>();
  for (const row of out.p) {
    if (seen.has(row[0]!)) throw new Error(`spec table p: patient ${row[0]} has two rows in a patient table`);
    seen.add(row[0]!);
  }
  return out;
}

function patientsIn(tables: Record<TableName, Row[]>): number[] {
  const ids = new Set<number>();
  for (const rows of Object.values(tables)) for (const row of rows) ids.add(row[0] as number);
  return [...ids].sort((a, b) => a - b);
}

// ==========================================================================
// RUNNING A CASE
// ==========================================================================

const SPEC_DIR = fileURLToPath(new URL(".", import.meta.url));

/** Sets the load context (parameters, the definition's folder) while `make` runs. */
function withParams<T>(params: Record<string, string>, make: () => T, definitionDir = SPEC_DIR): T {
  setLoadContext({ params, definitionDir });
  try {
    return make();
  } finally {
    setLoadContext({ params: {}, definitionDir: SPEC_DIR });
  }
}

function build(c: Pick<SpecCase, "series" | "population">): QueryModelDataset {
  const dataset = createDataset();
  dataset.definePopulation(c.population ? c.population() : p.existsForPatient().or(e.existsForPatient()));
  dataset.addColumn("v", c.series());
  return dataset.toQueryModel();
}

/** Builds a case's dataset as a researcher would: population, then the variable `v`, with the case's parameters. */
export function buildDataset(c: Pick<SpecCase, "series" | "population" | "params" | "definitionDir">): QueryModelDataset {
  return withParams(c.params ?? {}, () => build(c), c.definitionDir);
}

/** A dataset whose only variable is `series`, for error cases (parameters as the error case sets them). */
export function datasetWith(series: () => unknown, population?: () => unknown): QueryModelDataset {
  return build({
    series: series as () => VariableSeries,
    ...(population ? { population: population as () => PopulationSeries } : {}),
  });
}

function sameValue(actual: Scalar | undefined, expected: Scalar, type: SeriesType): boolean {
  if (expected === null || actual === null || actual === undefined) return actual === expected;
  if (type === "float" && typeof expected === "number" && typeof actual === "number") {
    return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
  }
  if (type === "int" && typeof actual === "number" && !Number.isInteger(actual)) return false;
  return actual === expected;
}

export async function runCase(c: SpecCase, engine: SpecEngine): Promise<void> {
  const tables = tableRows(c.tables);
  const expectedIds = Object.keys(c.expected).map(Number).sort((a, b) => a - b);
  if (!c.population) {
    // A harness check: the case must say what it expects for every patient.
    expect(expectedIds, `case "${c.name}" must list exactly the patients in its tables`).toEqual(patientsIn(tables));
  }
  const dataset = buildDataset(c);
  const type = dataset.variables[0]!.series.type;
  if (c.type) expect(type, "type of v in the query model").toBe(c.type);
  const rows = await engine.run(dataset, tables);
  const ids = rows.map((r) => r[0] as number);
  expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!), `patients once each, in ascending order: ${ids.join(", ")}`).toBe(true);
  const actual: Record<number, Scalar> = {};
  for (const row of rows) {
    expect(row.length, "each output row is [patient_id, v]").toBe(2);
    actual[row[0] as number] = row[1]!;
  }
  const actualIds = Object.keys(actual).map(Number).sort((a, b) => a - b);
  expect(actualIds, "patients in the output").toEqual(expectedIds);
  const mismatches = expectedIds.filter((id) => !sameValue(actual[id], c.expected[id]!, type));
  if (mismatches.length > 0) {
    // Show the whole result, so a failure reads as expected vs actual per patient.
    expect(actual).toEqual(c.expected);
    throw new Error(`values differ for patients ${mismatches.join(", ")} (type ${type}): ${JSON.stringify(actual)}`);
  }
}

export function runErrorCase(c: ErrorCase): void {
  let thrown: unknown;
  try {
    withParams(c.params ?? {}, c.build);
  } catch (err) {
    thrown = err;
  }
  expect(thrown, "the definition must be refused").toBeInstanceOf(Error);
  const err = thrown as Error;
  expect(err.message).toMatch(c.message);
}

// ==========================================================================
// COVERAGE: every node kind and operation has a case
// ==========================================================================

export const NODE_KINDS = [
  "SelectTable",
  "SelectPatientTable",
  "InlinePatientTable",
  "Filter",
  "Sort",
  "PickOneRowPerPatient",
  "Value",
  "Parameter",
  "SelectColumn",
  "Aggregate",
  "Function",
  "Case",
] as const;

/**
 * What the cases exercise: their expressions, and the populations that cases
 * give themselves (not the harness's own population, which every case shares).
 */
export function exercised(runs: readonly { dataset: QueryModelDataset; ownPopulation: boolean }[]): Set<string> {
  const seen = new Set<string>();
  for (const { dataset, ownPopulation } of runs) {
    const roots = [...dataset.variables.map((v) => v.series), ...(ownPopulation ? [dataset.population] : [])];
    for (const n of walk(roots)) {
      seen.add(`kind:${n.kind}`);
      if (n.kind === "Function") seen.add(`fn:${n.fn}`);
      if (n.kind === "Aggregate") seen.add(`agg:${n.fn}`);
    }
  }
  return seen;
}

/**
 * What a dataset cannot hold when it runs, and so no case here can show, with
 * the reason. Keep this list short: everything else must have a case.
 */
export const NOT_RUNNABLE_IN_A_DATASET: Readonly<Record<string, string>> = {
  "kind:Parameter": "stands for a measure's INTERVAL dates, which measures substitute before a query runs; engines refuse it",
};

export function everythingToExercise(): string[] {
  return [
    ...NODE_KINDS.map((k) => `kind:${k}`),
    ...Object.keys(FUNCTIONS).map((f) => `fn:${f}`),
    ...Object.keys(AGGREGATIONS).map((a) => `agg:${a}`),
  ].filter((x) => !Object.hasOwn(NOT_RUNNABLE_IN_A_DATASET, x));
}

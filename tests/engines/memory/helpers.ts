// Shared helpers for the memory engine's tests: tiny constructors over Q.* and
// a runner that collects every batch.

import { MemoryEngine } from "../../../src/engines/memory/index.js";
import { RowsTableReader } from "../../../src/engines/files/index.js";
import type { Row } from "../../../src/engines/types.js";
import { type Dataset, type Frame, type FunctionName, type Scalar, type ScalarType, type Series, Q, makeDataset } from "../../../src/querymodel/index.js";

export const col = (frame: Frame, name: string) => Q.column(frame, name);
export const int = (n: number) => Q.value("int", n);
export const bool = (b: boolean | null) => Q.value("bool", b);
export const date = (d: string) => Q.value("date", d);
export const fn = (name: FunctionName, ...args: Series[]) => Q.fn(name, ...args);
export const setOf = (type: ScalarType, values: Scalar[]) => Q.value(`set<${type}>`, values);

/** A dataset whose population is given and whose variables are named by the object's keys, in order. */
export function dataset(population: Series, variables: Record<string, Series>): Dataset {
  return makeDataset(
    population,
    Object.entries(variables).map(([name, series]) => ({ name, series })),
  );
}

export async function run(ds: Dataset, tables: Record<string, Row[]>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const batch of new MemoryEngine(new RowsTableReader(tables)).execute(ds)) out.push(...batch);
  return out;
}

/** Runs the dataset and returns `{ patient_id: [variables...] }` for easy comparison. */
export async function byPatient(ds: Dataset, tables: Record<string, Row[]>): Promise<Record<number, Scalar[]>> {
  const rows = await run(ds, tables);
  return Object.fromEntries(rows.map(([pid, ...rest]) => [pid as number, rest]));
}

// Tables used across the tests.
export const p = Q.selectPatientTable("p", { i1: "int", b1: "bool", d1: "date", s1: "str" });
export const e = Q.selectTable("e", { i1: "int", i2: "int", b1: "bool", d1: "date", f1: "float", c1: "snomedct", s1: "str" });
export const everyone = bool(true);

/** A row of `e` from the columns given; the others are NULL. */
export function ev(pid: number, cols: Partial<Record<"i1" | "i2" | "b1" | "d1" | "f1" | "c1" | "s1", Scalar>>): Row {
  return [pid, ...(["i1", "i2", "b1", "d1", "f1", "c1", "s1"] as const).map((c) => cols[c] ?? null)];
}
/** A row of `p` from the columns given; the others are NULL. */
export function pv(pid: number, cols: Partial<Record<"i1" | "b1" | "d1" | "s1", Scalar>>): Row {
  return [pid, ...(["i1", "b1", "d1", "s1"] as const).map((c) => cols[c] ?? null)];
}

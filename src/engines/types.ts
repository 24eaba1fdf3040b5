// What every engine offers, and what it reads tables from. An engine takes a
// validated query model and yields the dataset's rows in batches, each row
// `[patient_id, ...variables in the dataset's order]`, patients in ascending id.

import type { Dataset, Scalar, Schema, Series } from "../querymodel/index.js";

export type Row = readonly Scalar[];

/** A table a query reads: its stored name, columns, and whether it has one row per patient. */
export interface TableSpec {
  readonly name: string;
  readonly schema: Schema;
  readonly patientLevel: boolean;
}

/** Rows of a table: `[patient_id, ...columns in the schema's key order]`, values already typed. */
export interface TableReader {
  read(table: TableSpec): Promise<Row[]>;
}

export interface Engine {
  readonly name: string;
  /** Runs the dataset; yields batches of rows. */
  execute(dataset: Dataset): AsyncIterable<Row[]>;
  /**
   * Totals for measures over all intervals at once, where the engine can do
   * better than running the dataset once per interval (engines/measures.ts
   * does that for engines without this).
   */
  intervalTotals?(query: IntervalTotalsQuery): Promise<GroupTotals[][]>;
}

/**
 * Measures that share a denominator and intervals: the population and the
 * columns read the interval's dates as the parameters `parameters`; each
 * grouping sums a numerator and a denominator column per interval and
 * combination of its group columns.
 */
export interface IntervalTotalsQuery {
  readonly population: Series;
  readonly columns: readonly Series[];
  readonly parameters: readonly [start: string, end: string];
  readonly intervals: readonly (readonly [string, string])[];
  readonly groupings: readonly { readonly numerator: number; readonly denominator: number; readonly groups: readonly number[] }[];
}

/**
 * One grouping's totals, ordered by interval, then by the lowest patient_id
 * with those group values (the order rows first show them in). The numerator
 * ignores NULLs; the denominator never is NULL (the population needs it true or above 0).
 */
export interface GroupTotals {
  readonly interval: number;
  readonly values: readonly Scalar[];
  readonly numerator: number;
  readonly denominator: number;
}

/** The dataset's output columns, with their types, in output order. */
export function datasetColumns(dataset: Dataset): { name: string; type: string }[] {
  return [{ name: "patient_id", type: "int" }, ...dataset.variables.map((v) => ({ name: v.name, type: v.series.type }))];
}

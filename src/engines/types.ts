// What every engine offers, and what it reads tables from. An engine takes a
// validated query model and yields the dataset's rows in batches, each row
// `[patient_id, ...variables in the dataset's order]`, patients in ascending id.

import type { Dataset, Scalar, Schema } from "../querymodel/index.js";

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
}

/** The dataset's output columns, with their types, in output order. */
export function datasetColumns(dataset: Dataset): { name: string; type: string }[] {
  return [{ name: "patient_id", type: "int" }, ...dataset.variables.map((v) => ({ name: v.name, type: v.series.type }))];
}

import type { Row, TableSpec } from "../types.js";
import type { Dialect } from "./dialect.js";

/** A database session: what the SQL engine needs of a driver. */
export interface SqlConnection {
  readonly dialect: Dialect;
  exec(sql: string): Promise<void>;
  /** Rows of a query, as arrays, in batches. */
  query(sql: string, batchSize?: number): AsyncIterable<unknown[][]>;
  tableExists(name: string): Promise<boolean>;
  /** Creates a stored table with `patient_id` and the spec's columns. */
  createTable(table: TableSpec): Promise<void>;
  /** Appends rows (`[patient_id, ...columns in schema order]`) to a table made by createTable. */
  insertRows(table: TableSpec, rows: readonly Row[]): Promise<void>;
  /** Indexes and analyses a loaded table, once its rows are in. */
  finishTable(table: TableSpec): Promise<void>;
  close(): Promise<void>;
}

/** Creates a table and fills it (dummy tables, tests). */
export async function loadTable(conn: SqlConnection, table: TableSpec, rows: readonly Row[]): Promise<void> {
  await conn.createTable(table);
  await conn.insertRows(table, rows);
  await conn.finishTable(table);
}

import type { Row, TableSpec } from "../types.js";
import type { Dialect } from "./dialect.js";

/** A database session: what the SQL engine needs of a driver. */
export interface SqlConnection {
  readonly dialect: Dialect;
  exec(sql: string): Promise<void>;
  /** Rows of a query, as arrays, in batches. */
  query(sql: string, batchSize?: number): AsyncIterable<unknown[][]>;
  tableExists(name: string): Promise<boolean>;
  /** Creates a table and fills it (used for dummy tables). */
  loadTable(table: TableSpec, rows: readonly Row[]): Promise<void>;
  close(): Promise<void>;
}

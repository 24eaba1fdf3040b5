// DuckDB: native DATE and BOOLEAN; GREATEST/LEAST already ignore NULLs.

import { createRequire } from "node:module";
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

// Loaded on first use: every `enclave` command would otherwise pay for loading the driver.
let api: typeof import("@duckdb/node-api") | undefined;
export const duckdbApi = (): typeof import("@duckdb/node-api") => (api ??= createRequire(import.meta.url)("@duckdb/node-api") as typeof import("@duckdb/node-api"));
import { type ScalarType, parseIsoDate } from "../../querymodel/index.js";
import { Dialect } from "./dialect.js";
import type { SqlConnection } from "./connection.js";
import type { Row, TableSpec } from "../types.js";

export class DuckdbDialect extends Dialect {
  readonly name = "duckdb";
  columnType(t: ScalarType): string {
    return t === "bool" ? "BOOLEAN" : t === "int" ? "BIGINT" : t === "float" ? "DOUBLE" : t === "date" ? "DATE" : "VARCHAR";
  }
  override addMonthsClamped(d: string, n: string): string {
    return `CAST(${d} + to_months(CAST(${n} AS INTEGER)) AS DATE)`;
  }
}

export class DuckdbConnection implements SqlConnection {
  readonly dialect = new DuckdbDialect();
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  static async open(file = ":memory:", options: { readonly?: boolean } = {}): Promise<DuckdbConnection> {
    const instance = await duckdbApi().DuckDBInstance.create(file, options.readonly ? { access_mode: "READ_ONLY" } : {});
    return new DuckdbConnection(instance, await instance.connect());
  }

  async exec(sql: string): Promise<void> {
    await this.conn.run(sql);
  }
  async *query(sql: string): AsyncIterable<unknown[][]> {
    const result = await this.conn.stream(sql);
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      const { DuckDBDateValue } = duckdbApi();
      yield chunk.getRows().map((r) => r.map((v) => (v instanceof DuckDBDateValue ? v.toString() : v)));
    }
  }
  async tableExists(name: string): Promise<boolean> {
    const r = await this.conn.runAndReadAll(`SELECT 1 FROM information_schema.tables WHERE table_name = ${this.dialect.stringLiteral(name)}`);
    return r.getRows().length > 0;
  }
  async createTable(table: TableSpec): Promise<void> {
    const d = this.dialect;
    const cols = Object.entries(table.schema).map(([c, t]) => `${d.quote(c)} ${d.columnType(t)}`);
    await this.conn.run(`CREATE TABLE ${d.quote(table.name)} (${["patient_id BIGINT", ...cols].join(", ")})`);
  }
  async insertRows(table: TableSpec, rows: readonly Row[]): Promise<void> {
    const appender = await this.conn.createAppender(table.name);
    const types = Object.values(table.schema);
    for (const r of rows) {
      appender.appendBigInt(BigInt(r[0] as number));
      types.forEach((t, i) => append(appender, r[i + 1] ?? null, t));
      appender.endRow();
    }
    appender.closeSync();
  }
  async finishTable(): Promise<void> {
    // DuckDB keeps its own statistics; an index would only slow loading.
  }
  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

function append(a: DuckDBAppender, v: unknown, t: ScalarType): void {
  if (v === null) return a.appendNull();
  switch (t) {
    case "bool":
      return a.appendBoolean(v as boolean);
    case "int":
      return a.appendBigInt(BigInt(v as number));
    case "float":
      return a.appendDouble(v as number);
    case "date":
      return a.appendDate(new (duckdbApi().DuckDBDateValue)(parseIsoDate(v as string)!));
    default:
      return a.appendVarchar(String(v));
  }
}

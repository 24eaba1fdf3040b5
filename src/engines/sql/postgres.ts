// PostgreSQL: native DATE and BOOLEAN; strings compared byte-wise with COLLATE "C"
// so that every engine orders them alike.

import { createRequire } from "node:module";
import type pgTypes from "pg";

// Loaded on first use: every `enclave` command would otherwise pay for loading the driver.
let loaded: typeof pgTypes | undefined;
const pgApi = (): typeof pgTypes => (loaded ??= createRequire(import.meta.url)("pg") as typeof pgTypes);
import type { ScalarType } from "../../querymodel/index.js";
import { Dialect } from "./dialect.js";
import type { SqlConnection } from "./connection.js";
import type { Row, TableSpec } from "../types.js";

export class PostgresDialect extends Dialect {
  readonly name = "postgres";
  columnType(t: ScalarType): string {
    return t === "bool" ? "BOOLEAN" : t === "int" ? "BIGINT" : t === "float" ? "DOUBLE PRECISION" : t === "date" ? "DATE" : "TEXT";
  }
  override boolToInt(x: string): string {
    return `CAST(CAST(${x} AS INTEGER) AS BIGINT)`;
  }
  override collate(x: string): string {
    return `(${x} COLLATE "C")`;
  }
  override addMonthsClamped(d: string, n: string): string {
    return `CAST(${d} + make_interval(months => CAST(${n} AS INTEGER)) AS DATE)`;
  }
  // Fresh statistics let the planner join the temporary tables well.
  override createTempTableAs(name: string, select: string): string[] {
    return [`CREATE TEMPORARY TABLE ${this.quote(name)} AS ${select}`, `ANALYZE ${this.quote(name)}`];
  }
}

// DATE as its ISO text (never a local-time Date); int8 and numeric as numbers.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === 1082) return (v: string) => v;
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pgApi().types.getTypeParser(oid, format as "text");
  },
} as pgTypes.CustomTypesConfig;

export class PostgresConnection implements SqlConnection {
  readonly dialect = new PostgresDialect();
  private constructor(
    private readonly client: pgTypes.Client,
    private readonly scratchSchema: string | null,
  ) {}

  /**
   * Connects. With `scratch`, tables loaded with loadTable go into a new schema
   * of their own that is dropped on close, so dummy tables never touch real ones.
   */
  static async open(url: string, options: { scratch?: boolean; schema?: string } = {}): Promise<PostgresConnection> {
    const client = new (pgApi().Client)({ connectionString: url, types });
    await client.connect();
    await client.query("SET standard_conforming_strings = on");
    if (options.schema) await client.query(`SET search_path TO ${new PostgresDialect().quote(options.schema)}`);
    let schema: string | null = null;
    if (options.scratch) {
      schema = `enclave_scratch_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`;
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`SET search_path TO "${schema}"`);
    }
    return new PostgresConnection(client, schema);
  }

  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  /** One statement only: the extended protocol refuses a second, so text from a researcher cannot smuggle one in. */
  async execOne(sql: string): Promise<void> {
    const config: pgTypes.QueryConfig & { queryMode: "extended" } = { text: sql, queryMode: "extended" };
    await this.client.query(config);
  }
  async *query(sql: string, batchSize = 10_000): AsyncIterable<unknown[][]> {
    await this.client.query("BEGIN");
    try {
      await this.client.query(`DECLARE enclave_rows NO SCROLL CURSOR FOR ${sql}`);
      for (;;) {
        const r = await this.client.query({ text: `FETCH FORWARD ${batchSize} FROM enclave_rows`, rowMode: "array" });
        if (r.rows.length === 0) break;
        yield r.rows as unknown[][];
      }
      await this.client.query("CLOSE enclave_rows");
      await this.client.query("COMMIT");
    } catch (e) {
      await this.client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  }
  async tableExists(name: string): Promise<boolean> {
    const r = await this.client.query("SELECT to_regclass($1) IS NOT NULL AS present", [this.dialect.quote(name)]);
    return r.rows[0].present === true;
  }
  async createTable(table: TableSpec): Promise<void> {
    const d = this.dialect;
    const cols = Object.entries(table.schema).map(([c, t]) => `${d.quote(c)} ${d.columnType(t)}`);
    await this.client.query(`CREATE TABLE ${d.quote(table.name)} (${["patient_id BIGINT", ...cols].join(", ")})`);
  }
  async insertRows(table: TableSpec, rows: readonly Row[]): Promise<void> {
    const width = Object.keys(table.schema).length + 1;
    const perBatch = Math.max(1, Math.floor(30_000 / width));
    for (let i = 0; i < rows.length; i += perBatch) {
      const batch = rows.slice(i, i + perBatch);
      const values = batch.map((_, j) => `(${Array.from({ length: width }, (_, k) => `$${j * width + k + 1}`).join(", ")})`);
      await this.client.query(`INSERT INTO ${this.dialect.quote(table.name)} VALUES ${values.join(", ")}`, batch.flat() as unknown[]);
    }
  }
  async finishTable(table: TableSpec): Promise<void> {
    const d = this.dialect;
    await this.client.query(`CREATE INDEX ON ${d.quote(table.name)} (patient_id)`);
    await this.client.query(`ANALYZE ${d.quote(table.name)}`);
  }
  async close(): Promise<void> {
    try {
      if (this.scratchSchema) await this.client.query(`DROP SCHEMA "${this.scratchSchema}" CASCADE`);
    } finally {
      await this.client.end();
    }
  }
}

// SQLite: dates are ISO text, booleans 0/1, and a handful of functions differ.

import Database from "better-sqlite3";
import type { ScalarType } from "../../querymodel/index.js";
import { type DatePart, Dialect } from "./dialect.js";
import type { SqlConnection } from "./connection.js";
import type { Row, TableSpec } from "../types.js";

export class SqliteDialect extends Dialect {
  readonly name = "sqlite";
  columnType(t: ScalarType): string {
    return t === "int" || t === "bool" ? "INTEGER" : t === "float" ? "REAL" : "TEXT";
  }
  override literal(value: Parameters<Dialect["literal"]>[0], t: ScalarType): string {
    if (value === null) return "NULL";
    if (t === "bool") return value ? "1" : "0";
    return super.literal(value, t);
  }
  override intLiteral(n: number): string {
    if (!Number.isSafeInteger(n)) throw new Error(`sqlite: ${n} is not an integer`);
    return String(n);
  }
  override floatLiteral(n: number): string {
    if (!Number.isFinite(n)) throw new Error(`sqlite: ${n} is not a finite number`);
    return Number.isInteger(n) && Math.abs(n) < 1e15 ? n.toFixed(1) : JSON.stringify(n);
  }
  override dateLiteral(iso: string): string {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) throw new Error(`sqlite: ${JSON.stringify(iso)} is not a date`);
    return `'${iso}'`;
  }
  override truncToInt(x: string): string {
    return `CAST(${x} AS INTEGER)`; // SQLite's cast truncates towards zero
  }
  override boolToInt(x: string): string {
    return x;
  }
  override contains(h: string, n: string): string {
    return `(INSTR(${h}, ${n}) > 0)`;
  }
  // SQLite's MAX(a, b) is NULL when any argument is; the aggregate ignores NULLs.
  override greatest(args: string[]): string {
    return `(SELECT MAX(v) FROM (${args.map((a) => `SELECT ${a} AS v`).join(" UNION ALL ")}))`;
  }
  override least(args: string[]): string {
    return `(SELECT MIN(v) FROM (${args.map((a) => `SELECT ${a} AS v`).join(" UNION ALL ")}))`;
  }
  override datePart(d: string, part: DatePart): string {
    return `CAST(strftime('${part === "YEAR" ? "%Y" : part === "MONTH" ? "%m" : "%d"}', ${d}) AS INTEGER)`;
  }
  override addDays(d: string, n: string): string {
    return `date(${d}, (${n}) || ' days')`;
  }
  // SQLite overflows a missing day into the next month (Jan 31 + 1 month = Mar 2);
  // when the day changed, the first of that month is the ehrQL answer.
  override addMonths(d: string, n: string): string {
    const shifted = `date(${d}, (${n}) || ' months')`;
    return `(CASE WHEN ${this.datePart(shifted, "DAY")} <> ${this.datePart(d, "DAY")} THEN date(${d}, (${n}) || ' months', 'start of month') ELSE ${shifted} END)`;
  }
  override diffDays(a: string, b: string): string {
    return `CAST(julianday(${a}) - julianday(${b}) AS INTEGER)`;
  }
  override firstOfMonth(d: string): string {
    return `date(${d}, 'start of month')`;
  }
  override firstOfYear(d: string): string {
    return `date(${d}, 'start of year')`;
  }
}

export class SqliteConnection implements SqlConnection {
  readonly dialect = new SqliteDialect();
  private readonly db: Database.Database;
  constructor(file = ":memory:", options: { readonly?: boolean; create?: boolean } = {}) {
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: file !== ":memory:" && !options.create });
  }
  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  async *query(sql: string, batchSize = 10_000): AsyncIterable<unknown[][]> {
    const stmt = this.db.prepare(sql).raw(true);
    let batch: unknown[][] = [];
    for (const row of stmt.iterate() as Iterable<unknown[]>) {
      batch.push(row);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }
  async tableExists(name: string): Promise<boolean> {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?").get(name) !== undefined;
  }
  async createTable(table: TableSpec): Promise<void> {
    const d = this.dialect;
    const cols = Object.entries(table.schema).map(([c, t]) => `${d.quote(c)} ${d.columnType(t)}`);
    this.db.exec(`CREATE TABLE ${d.quote(table.name)} (${["patient_id INTEGER", ...cols].join(", ")})`);
  }
  async insertRows(table: TableSpec, rows: readonly Row[]): Promise<void> {
    const d = this.dialect;
    const types = Object.values(table.schema);
    const insert = this.db.prepare(`INSERT INTO ${d.quote(table.name)} VALUES (?${", ?".repeat(types.length)})`);
    this.db.transaction(() => {
      for (const r of rows) insert.run(r.map((v, i) => (i > 0 && types[i - 1] === "bool" && v !== null ? (v ? 1 : 0) : v)));
    })();
  }
  async finishTable(table: TableSpec): Promise<void> {
    const d = this.dialect;
    this.db.exec(`CREATE INDEX ${d.quote(`ix_${table.name}_patient_id`)} ON ${d.quote(table.name)} (patient_id)`);
    this.db.exec(`ANALYZE ${d.quote(table.name)}`);
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

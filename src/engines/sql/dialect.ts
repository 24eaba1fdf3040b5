// What differs between SQL databases, as small hooks with defaults. A dialect
// overrides only what its database does differently; a hook with no sensible
// default throws, naming the dialect and the hook, rather than guess.

import type { Scalar, ScalarType } from "../../querymodel/index.js";

export type DatePart = "YEAR" | "MONTH" | "DAY";

export abstract class Dialect {
  abstract readonly name: string;

  /** Double-quoted identifiers work in SQLite, DuckDB and PostgreSQL alike. */
  quote(id: string): string {
    if (id.includes("\0")) throw new Error(`${this.name}: an identifier cannot contain NUL`);
    return `"${id.replace(/"/g, '""')}"`;
  }

  /** The column type used to store values of a type. */
  abstract columnType(t: ScalarType): string;

  // ---- literals: every value a definition holds reaches SQL through these ----

  literal(value: Scalar, t: ScalarType): string {
    if (value === null) return `CAST(NULL AS ${this.columnType(t)})`;
    switch (t) {
      case "bool":
        return value ? "TRUE" : "FALSE";
      case "int":
        return this.intLiteral(value as number);
      case "float":
        return this.floatLiteral(value as number);
      case "date":
        return this.dateLiteral(value as string);
      default:
        return this.stringLiteral(String(value));
    }
  }
  intLiteral(n: number): string {
    if (!Number.isSafeInteger(n)) throw new Error(`${this.name}: ${n} is not an integer`);
    return `CAST(${n} AS BIGINT)`;
  }
  floatLiteral(n: number): string {
    if (!Number.isFinite(n)) throw new Error(`${this.name}: ${n} is not a finite number`);
    return `CAST(${JSON.stringify(n)} AS ${this.columnType("float")})`;
  }
  dateLiteral(iso: string): string {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) throw new Error(`${this.name}: ${JSON.stringify(iso)} is not a date`);
    return `DATE '${iso}'`;
  }
  /** Standard SQL strings: a quote is doubled and nothing else is special. */
  stringLiteral(s: string): string {
    if (s.includes("\0")) throw new Error(`${this.name}: a string cannot contain NUL`);
    return `'${s.replace(/'/g, "''")}'`;
  }

  // ---- functions whose spelling differs ----

  castToFloat(x: string): string {
    return `CAST(${x} AS ${this.columnType("float")})`;
  }
  /** Float to int, rounding towards zero. */
  truncToInt(x: string): string {
    return `CAST(TRUNC(${x}) AS ${this.columnType("int")})`;
  }
  boolToInt(x: string): string {
    return `CAST(${x} AS ${this.columnType("int")})`;
  }
  floor(x: string): string {
    return `FLOOR(${x})`;
  }
  /** Substring test, with no pattern characters. */
  contains(haystack: string, needle: string): string {
    return `(STRPOS(${haystack}, ${needle}) > 0)`;
  }
  /** Largest/smallest of the arguments, ignoring NULLs (all NULL gives NULL). */
  greatest(args: string[]): string {
    return `GREATEST(${args.join(", ")})`;
  }
  least(args: string[]): string {
    return `LEAST(${args.join(", ")})`;
  }
  /** How a string comparison or ordering is made byte-wise (code unit order). */
  collate(x: string): string {
    return x;
  }
  // Dates: the defaults suit databases with a native DATE type (DuckDB, PostgreSQL).
  datePart(d: string, part: DatePart): string {
    return `CAST(EXTRACT(${part} FROM ${d}) AS BIGINT)`;
  }
  addDays(d: string, n: string): string {
    return `CAST(${d} + CAST(${n} AS INTEGER) AS DATE)`;
  }
  /** The database's own month arithmetic, which clamps a missing day to the month's last. */
  addMonthsClamped(_d: string, _n: string): string {
    throw new Error(`${this.name}: the dialect does not say how to add months (addMonthsClamped)`);
  }
  /**
   * Adds months; the result keeps the day of the month, or rolls forward to the
   * 1st of the next month. Clamped to the month's last day (Jan 31 + 1 month =
   * Feb 29), the day after is ehrQL's answer (Mar 1).
   */
  addMonths(d: string, n: string): string {
    const shifted = this.addMonthsClamped(d, n);
    return `(CASE WHEN ${this.datePart(shifted, "DAY")} <> ${this.datePart(d, "DAY")} THEN CAST(${shifted} + 1 AS DATE) ELSE ${shifted} END)`;
  }
  diffDays(a: string, b: string): string {
    return `CAST(${a} - ${b} AS BIGINT)`;
  }
  firstOfMonth(d: string): string {
    return `CAST(date_trunc('month', ${d}) AS DATE)`;
  }
  firstOfYear(d: string): string {
    return `CAST(date_trunc('year', ${d}) AS DATE)`;
  }

  // ---- statements ----

  createTempTableAs(name: string, select: string): string[] {
    return [`CREATE TEMPORARY TABLE ${this.quote(name)} AS ${select}`];
  }
  createTempTable(name: string, columns: [string, ScalarType | "patient_id"][]): string {
    const cols = columns.map(([c, t]) => `${this.quote(c)} ${t === "patient_id" ? this.columnType("int") : this.columnType(t)}`);
    return `CREATE TEMPORARY TABLE ${this.quote(name)} (${cols.join(", ")})`;
  }
  dropTempTable(name: string): string {
    return `DROP TABLE IF EXISTS ${this.quote(name)}`;
  }
}

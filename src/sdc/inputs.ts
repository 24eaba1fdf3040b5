// What the checks and the ledger read: a table file (the CSV itself, what a
// cell holds: a count, a number, a redaction, nothing; and, for a table
// without a declaration, which columns are counts, categories or statistics,
// guessed from their names and values), and the declarations of tables.

import * as fs from "node:fs";
import * as path from "node:path";
import { parseCsv, CsvSyntaxError } from "../engines/files/csv.js";
import { type TableDeclaration, DECLARATION_SUFFIX, REDACTED } from "./declarations.js";

/**
 * The input cannot be checked: a missing or unreadable file, a CSV that does
 * not parse, an invalid declaration. The command exits with 2.
 */
export class SdcInputError extends Error {
  override name = "SdcInputError";
}

/** Category values that mean "everyone" (a total row). */
export const TOTAL_WORDS: ReadonlySet<string> = new Set(["total", "all", "overall"]);

// ---------------------------------------------------------------- cells

export const INTEGER = /^[+-]?[0-9]+(?:\.0*)?$/;
export const NUMBER = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
export const MISSING = new Set(["", "na", "nan", "null", "none", "-"]);

export function isRedacted(v: string): boolean {
  const t = v.trim().toUpperCase();
  return t === REDACTED || t === "REDACTED";
}

/** Neither a value nor a suppressed one: an empty cell (or NA). */
export function isMissing(v: string): boolean {
  return MISSING.has(v.trim().toLowerCase());
}

/** Suppressed or missing: not a count. */
export function isBlank(v: string): boolean {
  return isRedacted(v) || isMissing(v);
}

export function asInteger(v: string): number | undefined {
  const t = v.trim();
  if (!INTEGER.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function asNumber(v: string): number | undefined {
  const t = v.trim();
  return NUMBER.test(t) ? Number(t) : undefined;
}

// ---------------------------------------------------------------- columns

export const COUNT_WORDS = new Set([
  "count",
  "counts",
  "n",
  "num",
  "number",
  "total",
  "totals",
  "all",
  "numerator",
  "denominator",
  "patients",
  "people",
  "persons",
  "frequency",
  "freq",
  "cases",
  "events",
  "deaths",
  "admissions",
  "population",
]);
export const STATISTIC_WORDS = new Set([
  "mean",
  "median",
  "sd",
  "std",
  "se",
  "rate",
  "ratio",
  "percent",
  "percentage",
  "pct",
  "prop",
  "proportion",
  "cost",
  "costs",
  "amount",
  "min",
  "max",
  "iqr",
  "avg",
  "average",
  "dose",
  "score",
  "lower",
  "upper",
  "ci",
  "midpoint6",
]);
export const DIMENSION_WORDS = new Set([
  "year",
  "month",
  "week",
  "day",
  "date",
  "quarter",
  "period",
  "age",
  "code",
  "id",
  "band",
  "group",
  "rank",
  "index",
  "order",
  "decile",
  "quintile",
  "imd",
  "stage",
  "level",
  "category",
  "wave",
  "version",
  "region",
  "practice",
]);

export function words(name: string): string[] {
  // snake_case, kebab-case, spaces and camelCase all split into lower-case words.
  return name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
}

export function isPatientIdName(name: string): boolean {
  return name.trim().toLowerCase() === "patient_id";
}

export function isIdentifierName(name: string): boolean {
  const w = words(name);
  return w.length > 0 && (w[w.length - 1] === "id" || /^(patient|person)id$/.test(w.join("")));
}

export function isMidpoint6Name(name: string): boolean {
  return /_midpoint6$/i.test(name.trim());
}

export type Kind = "count" | "midpoint6" | "category" | "statistic" | "magnitude" | "other";

export interface ColumnFacts {
  /** Something other than blanks. */
  hasValues: boolean;
  /** Every value (but blanks) is a whole number of 0 or more. */
  counts: boolean;
  /** Every value (but blanks) is a number. */
  numeric: boolean;
}

export function columnFacts(rows: readonly string[][], j: number): ColumnFacts {
  let hasValues = false;
  let counts = true;
  let numeric = true;
  for (const row of rows) {
    const v = row[j] ?? "";
    if (isBlank(v)) continue;
    hasValues = true;
    if (counts) {
      const n = asInteger(v);
      if (n === undefined || n < 0) counts = false;
    }
    if (!counts && asNumber(v) === undefined) {
      numeric = false;
      break;
    }
  }
  return { hasValues, counts: counts && hasValues, numeric: numeric && hasValues };
}

/** What each column of a table without a declaration is taken to be. */
export function guessKinds(header: readonly string[], rows: readonly string[][]): Kind[] {
  const facts = header.map((_, j) => columnFacts(rows, j));
  const kinds: Kind[] = header.map((name, j) => {
    const f = facts[j]!;
    const w = words(name);
    if (isMidpoint6Name(name)) return "midpoint6";
    if (w.some((x) => DIMENSION_WORDS.has(x)) || isPatientIdName(name)) return "category";
    if (!f.numeric && f.hasValues) return "category";
    if (w.some((x) => STATISTIC_WORDS.has(x))) return "statistic";
    // A column of blanks only, named as a count, is a count (with nothing to check).
    if ((f.counts || !f.hasValues) && w.some((x) => COUNT_WORDS.has(x))) return "count";
    return f.counts ? "other" : "statistic";
  });
  // In a table of categories and whole numbers only, the whole numbers are counts.
  const hasCategory = kinds.includes("category");
  const onlyCategoriesAndWhole = kinds.every((k, j) => k === "category" || k === "count" || k === "midpoint6" || (k === "other" && facts[j]!.counts));
  if (hasCategory && onlyCategoriesAndWhole) return kinds.map((k) => (k === "other" ? "count" : k));
  return kinds;
}

// ---------------------------------------------------------------- tables

export function parseTable(file: string, bytes: Buffer): { header: string[]; rows: string[][] } {
  let header: string[] | undefined;
  const rows: string[][] = [];
  try {
    for (const record of parseCsv(bytes.toString("utf8"))) {
      if (header === undefined) header = record.cells;
      else rows.push(record.cells);
    }
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new SdcInputError(`cannot read ${file} as CSV: line ${e.line}: ${e.message}`);
    throw e;
  }
  return { header: header ?? [], rows };
}

// ---------------------------------------------------------------- declarations

/** Reads a file of one declaration or a list of them, validating each. */
export function loadDeclarations(file: string): { declaration: TableDeclaration; from: string }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SdcInputError(`cannot read the declarations ${file}: ${code === "ENOENT" ? "there is no such file" : (e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SdcInputError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(value) ? value : [value];
  return list.map((d, i) => ({ declaration: validateDeclaration(d, Array.isArray(value) ? `${file}: [${i}]` : file), from: file }));
}

export function findDeclaration(file: string, given: readonly { declaration: TableDeclaration; from: string }[]): TableDeclaration | undefined {
  const target = path.resolve(file);
  for (const { declaration, from } of given) {
    if (path.resolve(declaration.file) === target || path.resolve(path.dirname(from), declaration.file) === target) return declaration;
  }
  // A declaration given with --declarations wins; the one beside the table is
  // its own whatever its `file` says (the table may have been moved with it).
  const beside = file + DECLARATION_SUFFIX;
  if (!fs.existsSync(beside)) return undefined;
  return loadDeclarations(beside)[0]?.declaration;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value as a TableDeclaration, or an SdcInputError naming `source` and the key that is wrong. */
export function validateDeclaration(value: unknown, source: string): TableDeclaration {
  const fail = (key: string, what: string): never => {
    throw new SdcInputError(`${source}: ${key} ${what}`);
  };
  if (!isObject(value)) return fail("the declaration", "must be an object (or a list of objects)");
  if (value.version !== 1) fail("version", "must be 1");
  if (typeof value.file !== "string" || value.file === "") fail("file", "must be the table's path");
  if (value.population !== undefined && typeof value.population !== "string") fail("population", "must be a string");
  if (!isObject(value.columns)) return fail("columns", "must be an object of column name → declaration");
  const columns = value.columns;
  const isWhole = (v: unknown, min: number) => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
  const countColumns = Object.entries(columns).filter(([, d]) => isObject(d) && d.kind === "count").map(([n]) => n);
  for (const [name, d] of Object.entries(columns)) {
    const key = `columns.${name}`;
    if (!isObject(d)) fail(key, "must be an object with a kind");
    const decl = d as Record<string, unknown>;
    switch (decl.kind) {
      case "category":
      case "midpoint6":
      case "other":
        break;
      case "count":
        if (!isWhole(decl.threshold, 0)) fail(`${key}.threshold`, "must be a whole number of 0 or more");
        if (decl.rounding !== null && !isWhole(decl.rounding, 1)) fail(`${key}.rounding`, "must be a whole number of 1 or more, or null");
        if (decl.totalOf !== undefined) {
          if (!Array.isArray(decl.totalOf) || decl.totalOf.length === 0) fail(`${key}.totalOf`, "must be a list of count columns");
          for (const p of decl.totalOf as unknown[]) {
            if (typeof p !== "string" || !countColumns.includes(p) || p === name) fail(`${key}.totalOf`, `names ${JSON.stringify(p)}, which is not another count column of the declaration`);
          }
        }
        break;
      case "statistic":
        if (typeof decl.countColumn !== "string" || !countColumns.includes(decl.countColumn)) fail(`${key}.countColumn`, "must name a count column of the declaration");
        break;
      case "magnitude":
        for (const k of ["top1", "top2"]) {
          if (typeof decl[k] !== "string" || !(decl[k] in columns)) fail(`${key}.${k}`, "must name a column of the declaration");
        }
        break;
      default:
        fail(`${key}.kind`, "must be one of category, count, midpoint6, statistic, magnitude, other");
    }
  }
  if (value.totalRows !== undefined) {
    const t = value.totalRows;
    if (!isObject(t) || typeof t.column !== "string" || typeof t.value !== "string") return fail("totalRows", "must be { column, value } (strings)");
    const d = columns[t.column];
    if (!isObject(d) || d.kind !== "category") fail("totalRows.column", "must name a category column of the declaration");
  }
  return value as unknown as TableDeclaration;
}

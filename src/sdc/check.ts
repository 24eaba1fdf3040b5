// `enclave sdc check`: the automated output check, as
// ../shared/spec/sdc-check.md specifies it (a public contract: rule names,
// row/column conventions and the results.json shape are fixed there).
//
// The checker looks at what was written, never at how: a table passes on its
// cells alone, or on its cells held to the declaration written beside it
// (`<file>.sdc.json`, or one given with --declarations). Everything it cannot
// judge (images without their data, free text) goes to a human as `review`;
// nothing it cannot judge passes.
//
// Heuristics, for tables without a declaration (each errs towards failing):
// - Counts: columns whose every value (but `[REDACTED]` and empty cells) is a
//   whole number of 0 or more, and whose name suggests a count (a word of the
//   name is count, n, total, numerator, denominator, patients, freq, ...), or,
//   in a table whose other columns are all categories, every such column. Names
//   of dimensions (year, age, month, code, id, band, ...) and of statistics
//   (mean, rate, percent, cost, ...) are never counts.
// - One row per patient: a `patient_id` column; or, in a table of 100 rows or
//   more, a column named as an identifier (`id`, `*_id`) whose values are all
//   different; or, in a table of 1,000 rows or more, a column of whole numbers
//   that are all different (no grouped table of that size has a unique integer
//   key but for a row per person).
// - Totals: a count column named `total` (or `all`) is the sum of the row's
//   other count columns when there are two or more of them and at least one
//   row adds up (so that a denominator named "total" is not taken for a sum);
//   a row whose category is `Total`, `All` or `Overall` is the sum of the rows
//   that share its other categories. Suppressed cells add 0: totals are
//   recomputed after suppression, or the suppressed cell can be recovered.
// - Text files (.txt .md .log .json) are `review` unless empty: only a person
//   can tell whether prose discloses. A valid `*.sdc.json` declaration passes.
// - Images and HTML pass when their data, `<stem>.csv`, is beside them (check
//   that file too); otherwise `review`.
// - A row with fewer cells than the header has empty cells; a CSV that does
//   not parse is an unreadable file (exit 2), as it cannot be judged.

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { LEVEL4_EXTENSIONS } from "../pipeline/project.js";
import { type ColumnDeclaration, type TableDeclaration, DECLARATION_SUFFIX } from "./declarations.js";
import { type LedgerEntry, describeTable, findDifferencing, readLedger } from "./ledger.js";
import { type Kind, SdcInputError, TOTAL_WORDS, isRedacted, isBlank, asInteger, asNumber, isPatientIdName, isIdentifierName, guessKinds, parseTable, loadDeclarations, findDeclaration, validateDeclaration } from "./inputs.js";

export { SdcInputError, findDeclaration, loadDeclarations, validateDeclaration } from "./inputs.js";

export type Rule =
  | "patient_level"
  | "small_count"
  | "unrounded"
  | "not_midpoint6"
  | "total_mismatch"
  | "dominance_nk"
  | "dominance_p"
  | "declaration_mismatch"
  | "differencing"
  | "no_underlying_data"
  | "file_type";

/** The order failures of the same cell are listed in. */
export const RULES: readonly Rule[] = [
  "file_type",
  "patient_level",
  "declaration_mismatch",
  "small_count",
  "unrounded",
  "not_midpoint6",
  "total_mismatch",
  "dominance_nk",
  "dominance_p",
  "differencing",
  "no_underlying_data",
];

/** Rules that need a person to look rather than fail the file. */
const REVIEW_RULES: ReadonlySet<Rule> = new Set(["no_underlying_data"]);

export interface Failure {
  rule: Rule;
  /** Data rows count from 1 (the header is row 0); null for the whole file or a whole column. */
  row: number | null;
  column: string | null;
  value: string | null;
  message: string;
}

export type Status = "pass" | "fail" | "review";

export interface FileResult {
  path: string;
  sha256: string;
  status: Status;
  failures: Failure[];
}

export interface Results {
  version: 1;
  files: FileResult[];
}

export interface CheckOptions {
  /** A file holding one declaration or a list of them. */
  declarations?: string;
  /** Counts from 1 to this are small: 7 by default. */
  threshold?: number;
  /** Counts must be multiples of this: 5 by default. */
  base?: number;
  /**
   * The folder of the ledger of released tables (ledger.ts): each CSV table is
   * checked for differencing against them. An absent folder is an empty ledger;
   * a file, or a ledger that does not parse, is an SdcInputError.
   */
  ledger?: string;
}

export const DEFAULT_THRESHOLD = 7;
export const DEFAULT_BASE = 5;


const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".svg", ".svgz", ".html"]);
const TEXT_EXTENSIONS = new Set([".txt", ".md", ".log", ".json"]);

/** Checks each file; the results are in the order of `files`. */
export async function checkFiles(files: readonly string[], options: CheckOptions = {}): Promise<Results> {
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const base = options.base ?? DEFAULT_BASE;
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new SdcInputError(`the threshold must be a whole number of 0 or more, not ${threshold}`);
  if (!Number.isSafeInteger(base) || base < 1) throw new SdcInputError(`the base must be a whole number of 1 or more, not ${base}`);
  // Read before any file, so that an unreadable ledger stops the check rather than passing tables unchecked.
  const ledger = options.ledger === undefined ? undefined : readLedger(options.ledger);
  const given = options.declarations === undefined ? [] : loadDeclarations(options.declarations);
  const out: FileResult[] = [];
  for (const file of files) {
    const bytes = await readInput(file);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const declaration = findDeclaration(file, given);
    const failures = checkBytes(file, bytes, declaration, { threshold, base });
    if (ledger !== undefined && extensionOf(file) === ".csv") failures.push(...checkDifferencing(file, bytes, declaration, ledger, { threshold, base }));
    failures.sort(compareFailures);
    const status: Status = failures.length === 0 ? "pass" : failures.every((f) => REVIEW_RULES.has(f.rule)) ? "review" : "fail";
    out.push({ path: file, sha256, status, failures: failures.map((f) => f.failure) });
  }
  return { version: 1, files: out };
}

async function readInput(file: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "there is no such file" : code === "EISDIR" ? "it is a folder" : code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new SdcInputError(`cannot read ${file}: ${why}`);
  }
}

interface Sortable {
  failure: Failure;
  col: number;
  rule: Rule;
}

function compareFailures(a: Sortable, b: Sortable): number {
  return (a.failure.row ?? -1) - (b.failure.row ?? -1) || a.col - b.col || RULES.indexOf(a.rule) - RULES.indexOf(b.rule);
}

interface Limits {
  threshold: number;
  base: number;
}

class Collector {
  readonly list: Sortable[] = [];
  constructor(private readonly header: readonly string[] = []) {}
  add(rule: Rule, row: number | null, column: string | null, value: string | null, message: string): void {
    const col = column === null ? -1 : this.header.indexOf(column);
    this.list.push({ failure: { rule, row, column, value, message }, col: col < 0 && column !== null ? this.header.length : col, rule });
  }
}

function checkBytes(file: string, bytes: Buffer, declaration: TableDeclaration | undefined, limits: Limits): Sortable[] {
  const ext = extensionOf(file);
  const c = new Collector();
  if (!LEVEL4_EXTENSIONS.includes(ext)) {
    c.add("file_type", null, null, null, `${ext === "" ? "a file without an extension" : `"${ext}"`} is not a level 4 file type (${LEVEL4_EXTENSIONS.join(" ")})`);
    return c.list;
  }
  if (ext === ".csv") return checkCsv(file, bytes, declaration, limits);
  if (IMAGE_EXTENSIONS.has(ext)) {
    const data = path.join(path.dirname(file), `${path.basename(file, path.extname(file))}.csv`);
    if (!fs.existsSync(data)) {
      c.add("no_underlying_data", null, null, null, `no data beside it: a figure needs the table it shows, as ${path.basename(data)} in the same folder, checked with it`);
    }
    return c.list;
  }
  if (TEXT_EXTENSIONS.has(ext) && bytes.toString("utf8").trim() !== "") {
    if (file.toLowerCase().endsWith(DECLARATION_SUFFIX) && isDeclaration(bytes)) return c.list;
    c.add("no_underlying_data", null, null, null, "a text file: a person must judge whether it discloses");
  }
  return c.list;
}

function checkDifferencing(file: string, bytes: Buffer, declaration: TableDeclaration | undefined, ledger: readonly LedgerEntry[], limits: Limits): Sortable[] {
  const { entry, header } = describeTable(file, bytes, declaration);
  const c = new Collector(header);
  for (const d of findDifferencing(entry, ledger, limits)) c.add("differencing", d.row, d.column, String(d.value), d.message);
  return c.list;
}

function extensionOf(file: string): string {
  return path.extname(file).toLowerCase();
}

function isDeclaration(bytes: Buffer): boolean {
  try {
    validateDeclaration(JSON.parse(bytes.toString("utf8")), "");
    return true;
  } catch {
    return false;
  }
}

function checkCsv(file: string, bytes: Buffer, declaration: TableDeclaration | undefined, limits: Limits): Sortable[] {
  const { header, rows } = parseTable(file, bytes);
  const c = new Collector(header);
  const cell = (i: number, j: number): string => rows[i]![j] ?? "";

  checkPatientLevel(header, rows, c);

  let kinds: Kind[];
  const declared = new Map<string, ColumnDeclaration>();
  if (declaration !== undefined) {
    for (const [name, d] of Object.entries(declaration.columns)) declared.set(name, d);
    for (const name of declared.keys()) {
      if (!header.includes(name)) c.add("declaration_mismatch", null, name, null, `the declaration names a column "${name}" that the file does not have`);
    }
    kinds = header.map((name) => {
      const d = declared.get(name);
      if (d === undefined) {
        c.add("declaration_mismatch", null, name, null, `the column "${name}" is not in the declaration, which must describe every column`);
        return "other";
      }
      return d.kind;
    });
  } else {
    kinds = guessKinds(header, rows);
  }

  const { threshold, base } = limits;
  for (let j = 0; j < header.length; j++) {
    const name = header[j]!;
    const kind = kinds[j];
    const d = declared.get(name);
    if (kind === "count") {
      for (let i = 0; i < rows.length; i++) {
        const v = cell(i, j);
        if (isBlank(v)) continue;
        const n = asInteger(v);
        if (n === undefined || n < 0) {
          if (d !== undefined) c.add("declaration_mismatch", i + 1, name, v, `${JSON.stringify(v)} is not a count, but the column is declared as counts`);
          continue;
        }
        if (n >= 1 && n <= threshold) c.add("small_count", i + 1, name, v, `${n} is a count of 1 to ${threshold}: redact it`);
        if (n % base !== 0) c.add("unrounded", i + 1, name, v, `${n} is not a multiple of ${base}: round counts to the nearest ${base}`);
        if (d?.kind === "count") {
          if (n >= 1 && n <= d.threshold) c.add("declaration_mismatch", i + 1, name, v, `${n} is ${d.threshold} or less, but the column is declared as suppressing counts of ${d.threshold} or less`);
          if (d.rounding !== null && n % d.rounding !== 0) c.add("declaration_mismatch", i + 1, name, v, `${n} is not a multiple of ${d.rounding}, but the column is declared as rounded to ${d.rounding}`);
        }
      }
    } else if (kind === "midpoint6") {
      for (let i = 0; i < rows.length; i++) {
        const v = cell(i, j);
        if (isBlank(v)) continue;
        const n = asInteger(v);
        if (n === undefined || !(n === 0 || (n > 0 && n % 6 === 3))) {
          c.add("not_midpoint6", i + 1, name, v, `${JSON.stringify(v)} is not a midpoint-6 value (0, 3, 9, 15, ...: 6k - 3)`);
        }
      }
    } else if (kind === "statistic" && d?.kind === "statistic") {
      const k = header.indexOf(d.countColumn);
      if (k < 0) continue;
      for (let i = 0; i < rows.length; i++) {
        const v = cell(i, j);
        if (isRedacted(cell(i, k)) && !isBlank(v)) {
          c.add("declaration_mismatch", i + 1, name, v, `the count it describes ("${d.countColumn}") is redacted in this row, so this statistic must be too`);
        }
      }
    } else if (kind === "magnitude" && d?.kind === "magnitude") {
      checkDominance(header, rows, j, d.top1, d.top2, c);
    }
  }

  if (declaration !== undefined) checkDeclaredTotals(declaration, header, rows, c);
  else checkGuessedTotals(header, rows, kinds, c);
  return c.list;
}

function checkPatientLevel(header: readonly string[], rows: readonly string[][], c: Collector): void {
  const named = header.find(isPatientIdName);
  if (named !== undefined) {
    c.add("patient_level", null, named, null, "a patient_id column: level 4 files hold aggregates, never a row per patient");
    return;
  }
  if (rows.length < 100) return;
  for (let j = 0; j < header.length; j++) {
    const byName = isIdentifierName(header[j]!);
    if (!byName && rows.length < 1000) continue;
    const seen = new Set<string>();
    let unique = true;
    for (const row of rows) {
      const v = (row[j] ?? "").trim();
      if (isBlank(v) || (!byName && asInteger(v) === undefined) || seen.has(v)) {
        unique = false;
        break;
      }
      seen.add(v);
    }
    if (unique) {
      const why = byName ? "an identifier column" : "a column of whole numbers";
      c.add("patient_level", null, header[j]!, null, `${why} with a different value in each of ${rows.length} rows: this looks like one row per patient`);
      return;
    }
  }
}

function checkDominance(header: readonly string[], rows: readonly string[][], j: number, top1: string, top2: string, c: Collector): void {
  const a = header.indexOf(top1);
  const b = header.indexOf(top2);
  if (a < 0 || b < 0) return;
  const name = header[j]!;
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![j] ?? "";
    const total = asNumber(v);
    const t1 = asNumber(rows[i]![a] ?? "");
    const t2 = asNumber(rows[i]![b] ?? "") ?? 0;
    if (total === undefined || t1 === undefined || total <= 0 || t1 <= 0) continue;
    if (t1 + t2 >= 0.9 * total) {
      c.add("dominance_nk", i + 1, name, v, `the two largest contributions make up ${percent((t1 + t2) / total)} of ${v} (at most 90% may come from 2 contributors)`);
    }
    if ((total - t1 - t2) / t1 < 0.1) {
      c.add("dominance_p", i + 1, name, v, `the rest after the two largest contributions is ${percent((total - t1 - t2) / t1)} of the largest (it must be 10% or more)`);
    }
  }
}

function percent(x: number): string {
  return `${(Math.round(x * 1000) / 10).toString()}%`;
}

/** A cell's part of a sum: suppressed and empty cells add 0 (totals are recomputed after suppression); undefined when it is not a number. */
function summand(v: string): number | undefined {
  return isBlank(v) ? 0 : asNumber(v);
}

function checkDeclaredTotals(declaration: TableDeclaration, header: readonly string[], rows: readonly string[][], c: Collector): void {
  const counts: number[] = [];
  for (const [name, d] of Object.entries(declaration.columns)) {
    const j = header.indexOf(name);
    if (d.kind !== "count" || j < 0) continue;
    counts.push(j);
    if (d.totalOf === undefined) continue;
    const parts = d.totalOf.map((p) => header.indexOf(p));
    if (parts.some((p) => p < 0)) continue;
    checkRowSums(rows, j, parts, name, d.totalOf, c);
  }
  if (declaration.totalRows !== undefined) {
    const t = header.indexOf(declaration.totalRows.column);
    if (t < 0) return;
    const others = Object.entries(declaration.columns)
      .filter(([name, d]) => d.kind === "category" && name !== declaration.totalRows!.column)
      .map(([name]) => header.indexOf(name))
      .filter((k) => k >= 0);
    const value = declaration.totalRows.value;
    checkTotalRows(header, rows, t, others, counts, (v) => v === value, c);
  }
}

function checkRowSums(rows: readonly string[][], j: number, parts: readonly number[], name: string, partNames: readonly string[], c: Collector): void {
  for (let i = 0; i < rows.length; i++) {
    const v = rows[i]![j] ?? "";
    if (isBlank(v)) continue;
    const total = asNumber(v);
    const sum = sumOf(parts.map((p) => rows[i]![p] ?? ""));
    if (total === undefined || sum === undefined || Math.abs(total - sum) < 1e-9) continue;
    c.add("total_mismatch", i + 1, name, v, `${v} is not the sum of ${partNames.map((p) => `"${p}"`).join(", ")} in this row (${sum})`);
  }
}

function sumOf(values: readonly string[]): number | undefined {
  let sum = 0;
  for (const v of values) {
    const n = summand(v);
    if (n === undefined) return undefined;
    sum += n;
  }
  return sum;
}

/**
 * Rows whose column `t` is a total (by `isTotal`) must hold, in each count
 * column, the sum of the rows that share their values in the columns `others`
 * and are not totals in `t`.
 */
function checkTotalRows(
  header: readonly string[],
  rows: readonly string[][],
  t: number,
  others: readonly number[],
  counts: readonly number[],
  isTotal: (v: string) => boolean,
  c: Collector,
): void {
  const key = (row: readonly string[]) => others.map((k) => (row[k] ?? "").trim()).join("\u0000");
  const sums = new Map<string, (number | undefined)[]>();
  const members = new Map<string, number>();
  for (const row of rows) {
    if (isTotal((row[t] ?? "").trim())) continue;
    const k = key(row);
    const s = sums.get(k) ?? counts.map(() => 0);
    counts.forEach((j, x) => {
      const n = summand(row[j] ?? "");
      s[x] = n === undefined || s[x] === undefined ? undefined : s[x]! + n;
    });
    sums.set(k, s);
    members.set(k, (members.get(k) ?? 0) + 1);
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (!isTotal((row[t] ?? "").trim())) continue;
    const s = sums.get(key(row));
    if (s === undefined) continue;
    counts.forEach((j, x) => {
      const v = row[j] ?? "";
      const total = asNumber(v);
      const sum = s[x];
      if (isBlank(v) || total === undefined || sum === undefined || Math.abs(total - sum) < 1e-9) return;
      c.add("total_mismatch", i + 1, header[j]!, v, `a total row: ${v} is not the sum of the ${members.get(key(row))} rows it totals (${sum})`);
    });
  }
}


function checkGuessedTotals(header: readonly string[], rows: readonly string[][], kinds: readonly Kind[], c: Collector): void {
  const counts = kinds.flatMap((k, j) => (k === "count" ? [j] : []));
  const categories = kinds.flatMap((k, j) => (k === "category" ? [j] : []));
  const isTotal = (v: string) => TOTAL_WORDS.has(v.toLowerCase());
  for (const j of counts) {
    if (!TOTAL_WORDS.has(header[j]!.trim().toLowerCase())) continue;
    const parts = counts.filter((p) => p !== j && !TOTAL_WORDS.has(header[p]!.trim().toLowerCase()));
    if (parts.length < 2) continue;
    // A column named "total" that never adds up is a denominator, not a sum.
    const addsUp = rows.some((row) => {
      const total = asNumber(row[j] ?? "");
      const sum = sumOf(parts.map((p) => row[p] ?? ""));
      return total !== undefined && sum !== undefined && Math.abs(total - sum) < 1e-9;
    });
    if (addsUp) checkRowSums(rows, j, parts, header[j]!, parts.map((p) => header[p]!), c);
  }
  for (const t of categories) {
    if (!rows.some((row) => isTotal((row[t] ?? "").trim()))) continue;
    checkTotalRows(header, rows, t, categories.filter((k) => k !== t), counts, isTotal, c);
  }
}

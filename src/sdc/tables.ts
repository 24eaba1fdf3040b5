// Safe table builders: they count, suppress (primary and secondary), round,
// recompute totals from what is published, and write the table as CSV beside
// a declaration of the controls applied (`<file>.sdc.json`), so that the
// output checker can hold the file to them.
//
// Totals are the sums of the published, rounded cells (suppressed cells count
// as nothing), as OpenSAFELY asks: a true total next to a suppressed cell
// would give the cell away. A total whose cells are all suppressed is itself
// written [REDACTED] rather than 0, which would read as "nobody".

import * as fs from "node:fs";
import * as path from "node:path";
import { DECLARATION_SUFFIX, REDACTED, type ColumnDeclaration, type TableDeclaration } from "./declarations.js";
import { type CellStatus, type CountControls, publish, suppressOneWay, suppressTwoWay, isSmallCount } from "./suppression.js";
import { ROUNDING_MULTIPLE, SUPPRESSION_THRESHOLD } from "../engines/measures.js";

/** A written value: a category, a count or statistic, or null for a suppressed one (written `[REDACTED]`). */
export type SafeValue = string | number | null;

/** A table made safe by a builder, ready for {@link writeSafeTable}. */
export interface SafeTable {
  /** The columns, in order. */
  readonly columns: readonly string[];
  /** The rows, total rows included; null is a suppressed value. */
  readonly rows: readonly Readonly<Record<string, SafeValue>>[];
  /** The controls applied, column by column (`file` is filled in when it is written). */
  readonly declaration: Omit<TableDeclaration, "file">;
  /** Why each count cell of each row is (not) published; total cells are left out. */
  readonly status: readonly Readonly<Record<string, CellStatus>>[];
}

export class DisclosureControlError extends Error {
  override name = "DisclosureControlError";
}

/** Options every builder takes. */
export interface TableOptions extends CountControls {
  /** Secondary suppression, so that no suppressed cell can be worked out from the true totals (default true). */
  readonly secondary?: boolean;
  /** A column of counts to add up, for rows that are already counts; without it each row counts 1. */
  readonly weight?: string;
  /** The label of total rows and columns (default "Total"); no category may have it. */
  readonly totalLabel?: string;
  /** How a null (or undefined) category is written (default "(missing)"). */
  readonly missingLabel?: string;
  /** Who is counted, for the declaration: "patients registered on 2024-03-31". */
  readonly population?: string;
  /** Also write the table (and its declaration) to this path. */
  readonly file?: string;
}

type Row = Readonly<Record<string, unknown>>;

const collator = new Intl.Collator("en", { numeric: true });

function label(v: unknown, options: TableOptions): string {
  if (v === null || v === undefined) return options.missingLabel ?? "(missing)";
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  return String(v);
}

function weightOf(row: Row, i: number, options: TableOptions): number {
  if (options.weight === undefined) return 1;
  const v = row[options.weight];
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw new DisclosureControlError(`the weight column ${JSON.stringify(options.weight)} holds counts, but row ${i + 1} has ${JSON.stringify(String(v))}`);
  }
  return n;
}

function controlsOf(options: TableOptions): { threshold: number; rounding: number | null } {
  return { threshold: options.threshold ?? SUPPRESSION_THRESHOLD, rounding: options.rounding === undefined ? ROUNDING_MULTIPLE : options.rounding };
}

function countDeclaration(options: TableOptions, totalOf?: readonly string[]): ColumnDeclaration {
  const c = controlsOf(options);
  return { kind: "count", threshold: c.threshold, rounding: c.rounding, ...(totalOf ? { totalOf } : {}) };
}

function sumPublished(values: readonly (number | null)[]): number | null {
  return values.every((v) => v === null) && values.length > 0 ? null : values.reduce<number>((s, v) => s + (v ?? 0), 0);
}

function noTotalLabel(categories: readonly string[], what: string, totalLabel: string): void {
  if (categories.includes(totalLabel)) {
    throw new DisclosureControlError(`${what} has a category ${JSON.stringify(totalLabel)}, the label of totals: rename it, or pass another totalLabel`);
  }
}

function finish(table: SafeTable, options: TableOptions): SafeTable {
  if (options.file !== undefined) writeSafeTable(options.file, table);
  return table;
}

/**
 * A one-way frequency table of `by`: one row per category (in natural order)
 * with its `count`, and a `Total` row.
 *
 * Counts from 1 to `threshold` (default 7) are suppressed; with `secondary`
 * (the default) a lone suppressed count takes the smallest other one with it
 * (see {@link suppressOneWay}); published counts are rounded to `rounding`
 * (default 5); the total is the sum of the published counts. Zeros cannot
 * arise from counting rows, so with `weight` only.
 *
 * @example
 * ```ts
 * import { frequencyTable, writeSafeTable } from "enclave/sdc";
 * const t = frequencyTable(dataset.objects(), "region", { population: "patients registered on 2024-03-31" });
 * writeSafeTable("output/by_region.csv", t); // and output/by_region.csv.sdc.json
 * // region,count
 * // East,120
 * // London,[REDACTED]      (5: primary)
 * // North East,[REDACTED]  (23, the smallest other: secondary)
 * // North West,85
 * // Total,205
 * ```
 */
export function frequencyTable(rows: readonly Row[], by: string, options: TableOptions & { total?: boolean; countColumn?: string } = {}): SafeTable {
  const countColumn = options.countColumn ?? "count";
  const totalLabel = options.totalLabel ?? "Total";
  const withTotal = options.total ?? true;
  if (countColumn === by) throw new DisclosureControlError(`the count column and the category column are both ${JSON.stringify(by)}`);
  const counts = new Map<string, number>();
  rows.forEach((r, i) => {
    const k = label(r[by], options);
    counts.set(k, (counts.get(k) ?? 0) + weightOf(r, i, options));
  });
  const cats = [...counts.keys()].sort(collator.compare);
  if (withTotal) noTotalLabel(cats, `column ${JSON.stringify(by)}`, totalLabel);
  const values = cats.map((c) => counts.get(c)!);
  const status = options.secondary === false ? values.map((v): CellStatus => (isSmallCount(v, options) ? "primary" : "published")) : suppressOneWay(values, options);
  const published = values.map((v, i) => publish(v, status[i]!, options));
  const out: Record<string, SafeValue>[] = cats.map((c, i) => ({ [by]: c, [countColumn]: published[i]! }));
  if (withTotal) out.push({ [by]: totalLabel, [countColumn]: sumPublished(published) });
  return finish(
    {
      columns: [by, countColumn],
      rows: out,
      status: status.map((s) => ({ [countColumn]: s })),
      declaration: {
        version: 1,
        ...(options.population !== undefined ? { population: options.population } : {}),
        columns: { [by]: { kind: "category" }, [countColumn]: countDeclaration(options) },
        ...(withTotal ? { totalRows: { column: by, value: totalLabel } } : {}),
      },
    },
    options,
  );
}

/**
 * A two-way table of counts, wide: one row per category of `rowVar`, one
 * column per category of `colVar` (every combination, 0 where none), and with
 * `margins` (the default) a `Total` column (the sum of the row's published
 * cells) and a `Total` row (the sums of the columns' published cells, and the
 * grand total).
 *
 * Counts from 1 to `threshold` are suppressed; with `secondary` (the default)
 * further cells are suppressed until none of them can be worked out from the
 * published cells and the true row, column and grand totals, whether or not
 * those are published (see {@link suppressTwoWay}); the rest are rounded to
 * `rounding`.
 *
 * @example
 * ```ts
 * // True counts:  p   q   r        Written:
 * //           x   3  40  22        a,p,q,r,Total
 * //           y  30  12  50        x,[REDACTED],40,[REDACTED],40
 * //           z  15   9   5        y,30,10,50,90
 * //                                z,[REDACTED],10,[REDACTED],10
 * //                                Total,30,60,50,140
 * const t = crosstab(dataset.objects(), "a", "b", { margins: true, threshold: 7, rounding: 5 });
 * writeSafeTable("output/a_by_b.csv", t);
 * // 3 and 5 are primary; 22 and 15 are secondary, so that every row and
 * // column with a suppressed cell has two and they form a cycle.
 * ```
 */
export function crosstab(rows: readonly Row[], rowVar: string, colVar: string, options: TableOptions & { margins?: boolean } = {}): SafeTable {
  const totalLabel = options.totalLabel ?? "Total";
  const margins = options.margins ?? true;
  if (rowVar === colVar) throw new DisclosureControlError(`crosstab needs two different columns, not ${JSON.stringify(rowVar)} twice`);
  const cells = new Map<string, Map<string, number>>();
  const colSet = new Set<string>();
  rows.forEach((r, i) => {
    const a = label(r[rowVar], options);
    const b = label(r[colVar], options);
    colSet.add(b);
    const line = cells.get(a) ?? new Map<string, number>();
    cells.set(a, line);
    line.set(b, (line.get(b) ?? 0) + weightOf(r, i, options));
  });
  const rowCats = [...cells.keys()].sort(collator.compare);
  const colCats = [...colSet].sort(collator.compare);
  if (colCats.includes(rowVar)) throw new DisclosureControlError(`column ${JSON.stringify(colVar)} has a category ${JSON.stringify(rowVar)}, the name of the row column`);
  if (margins) {
    noTotalLabel(rowCats, `column ${JSON.stringify(rowVar)}`, totalLabel);
    noTotalLabel(colCats, `column ${JSON.stringify(colVar)}`, totalLabel);
  }
  // No data, no columns of counts: a Total column would total nothing.
  const totalColumn = margins && colCats.length > 0;
  const counts = rowCats.map((a) => colCats.map((b) => cells.get(a)!.get(b) ?? 0));
  const status =
    options.secondary === false ? counts.map((r) => r.map((v): CellStatus => (isSmallCount(v, options) ? "primary" : "published"))) : suppressTwoWay(counts, options);
  const published = counts.map((r, i) => r.map((v, j) => publish(v, status[i]![j]!, options)));
  const out: Record<string, SafeValue>[] = rowCats.map((a, i) => {
    const row: Record<string, SafeValue> = { [rowVar]: a };
    colCats.forEach((b, j) => (row[b] = published[i]![j]!));
    if (totalColumn) row[totalLabel] = sumPublished(published[i]!);
    return row;
  });
  if (margins) {
    const totals: Record<string, SafeValue> = { [rowVar]: totalLabel };
    colCats.forEach((b, j) => (totals[b] = sumPublished(published.map((r) => r[j]!))));
    if (totalColumn) totals[totalLabel] = sumPublished(published.flat());
    out.push(totals);
  }
  const columns: Record<string, ColumnDeclaration> = { [rowVar]: { kind: "category" } };
  for (const b of colCats) columns[b] = countDeclaration(options);
  if (totalColumn) columns[totalLabel] = countDeclaration(options, colCats);
  return finish(
    {
      columns: [rowVar, ...colCats, ...(totalColumn ? [totalLabel] : [])],
      rows: out,
      status: status.map((r) => Object.fromEntries(colCats.map((b, j) => [b, r[j]!]))),
      declaration: {
        version: 1,
        ...(options.population !== undefined ? { population: options.population } : {}),
        columns,
        ...(margins ? { totalRows: { column: rowVar, value: totalLabel } } : {}),
      },
    },
    options,
  );
}

/** The statistics {@link summaryByGroup} computes. `sd` is the sample standard deviation; quartiles interpolate linearly (R's type 7). */
export type Statistic = "mean" | "median" | "sd" | "q1" | "q3";
const STATISTICS: readonly Statistic[] = ["mean", "median", "sd", "q1", "q3"];

function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
}

function statistic(values: readonly number[], s: Statistic): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  const n = values.length;
  if (n === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  switch (s) {
    case "mean":
      return mean;
    case "median":
      return quantile(sorted, 0.5);
    case "q1":
      return quantile(sorted, 0.25);
    case "q3":
      return quantile(sorted, 0.75);
    case "sd":
      return n < 2 ? null : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  }
}

/**
 * Summary statistics of `valueColumn` by `by`: one row per category with
 * `count` (the rows that have a value; nulls are left out of everything) and
 * a column `<valueColumn>_<stat>` for each statistic asked for, rounded to
 * `decimals` places (default 2).
 *
 * Counts are suppressed and rounded as in {@link frequencyTable} (with
 * secondary suppression, as if the overall count were known); wherever a
 * count is suppressed, so are the group's statistics. Minimums and maximums
 * are not offered: each is one patient's value.
 *
 * @example
 * ```ts
 * const t = summaryByGroup(dataset.objects(), "sex", "bmi", { stats: ["mean", "median"] });
 * writeSafeTable("output/bmi_by_sex.csv", t);
 * // sex,count,bmi_mean,bmi_median
 * // female,1250,27.31,26.8
 * // male,1180,27.94,27.2
 * ```
 */
export function summaryByGroup(
  rows: readonly Row[],
  by: string,
  valueColumn: string,
  options: Omit<TableOptions, "weight" | "totalLabel"> & { stats?: readonly Statistic[]; decimals?: number; countColumn?: string } = {},
): SafeTable {
  const stats = options.stats ?? ["mean"];
  for (const s of stats) if (!STATISTICS.includes(s)) throw new DisclosureControlError(`summaryByGroup: unknown statistic ${JSON.stringify(s)} (known: ${STATISTICS.join(", ")})`);
  const countColumn = options.countColumn ?? "count";
  const decimals = options.decimals ?? 2;
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = label(r[by], options);
    const list = groups.get(k) ?? [];
    groups.set(k, list);
    const v = r[valueColumn];
    if (v === null || v === undefined) return;
    const x = typeof v === "bigint" ? Number(v) : v;
    if (typeof x !== "number" || !Number.isFinite(x)) throw new DisclosureControlError(`summaryByGroup: row ${i + 1}, column ${JSON.stringify(valueColumn)} is ${JSON.stringify(String(v))}, not a number`);
    list.push(x);
  });
  const cats = [...groups.keys()].sort(collator.compare);
  const counts = cats.map((c) => groups.get(c)!.length);
  const status = options.secondary === false ? counts.map((v): CellStatus => (isSmallCount(v, options) ? "primary" : "published")) : suppressOneWay(counts, options);
  const statColumns = stats.map((s) => `${valueColumn}_${s}`);
  const scale = 10 ** decimals;
  const out = cats.map((c, i) => {
    const row: Record<string, SafeValue> = { [by]: c, [countColumn]: publish(counts[i]!, status[i]!, options) };
    stats.forEach((s, k) => {
      const v = status[i] === "published" ? statistic(groups.get(c)!, s) : null;
      row[statColumns[k]!] = v === null ? null : Math.round(v * scale) / scale;
    });
    return row;
  });
  const columns: Record<string, ColumnDeclaration> = { [by]: { kind: "category" }, [countColumn]: countDeclaration(options) };
  for (const s of statColumns) columns[s] = { kind: "statistic", countColumn };
  return finish(
    {
      columns: [by, countColumn, ...statColumns],
      rows: out,
      status: status.map((s) => ({ [countColumn]: s })),
      declaration: { version: 1, ...(options.population !== undefined ? { population: options.population } : {}), columns },
    },
    options,
  );
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? REDACTED : String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV (RFC 4180, `\n` line ends), suppressed values written `[REDACTED]`. */
export function toCSV(table: Pick<SafeTable, "columns" | "rows">): string {
  const lines = [table.columns.map(csvField).join(",")];
  for (const r of table.rows) lines.push(table.columns.map((c) => csvField(r[c])).join(","));
  return lines.join("\n") + "\n";
}

const isRedacted = (v: unknown): boolean => v === null || v === undefined || v === REDACTED || v === "";

/**
 * What in a table does not follow its declaration (empty when it all does):
 * undeclared or missing columns, counts from 1 to the threshold or not a
 * multiple of the rounding, totals (`totalOf` and `totalRows`) that are not
 * the sums of the published cells, statistics published where their count is
 * suppressed, `_midpoint6` values midpoint-6 rounding cannot give.
 * {@link writeSafeTable} refuses a table with any; the output checker is the
 * authority, this is the builder's own guard.
 */
export function declarationProblems(table: Pick<SafeTable, "columns" | "rows">, declaration: Omit<TableDeclaration, "file">): string[] {
  const problems: string[] = [];
  const declared = Object.keys(declaration.columns);
  for (const c of table.columns) if (!declared.includes(c)) problems.push(`column ${JSON.stringify(c)} is not declared`);
  for (const c of declared) if (!table.columns.includes(c)) problems.push(`declared column ${JSON.stringify(c)} is not in the table`);
  const num = (v: unknown): number | null => (isRedacted(v) ? null : Number(v));
  table.rows.forEach((r, i) => {
    const at = (c: string): string => `row ${i + 1}, column ${JSON.stringify(c)}`;
    for (const [c, d] of Object.entries(declaration.columns)) {
      const v = r[c];
      if (d.kind === "count" && !isRedacted(v)) {
        const n = Number(v);
        if (!Number.isSafeInteger(n) || n < 0) problems.push(`${at(c)}: ${String(v)} is not a count`);
        else if (n > 0 && n <= d.threshold) problems.push(`${at(c)}: ${n} is a small count (1 to ${d.threshold})`);
        else if (d.rounding !== null && n % d.rounding !== 0) problems.push(`${at(c)}: ${n} is not a multiple of ${d.rounding}`);
        if (d.totalOf) {
          const parts = d.totalOf.map((p) => num(r[p]));
          if (sumPublished(parts) !== n) problems.push(`${at(c)}: ${n} is not the sum of ${d.totalOf.join(", ")}`);
        }
      } else if (d.kind === "count" && d.totalOf && d.totalOf.some((p) => !isRedacted(r[p]))) {
        problems.push(`${at(c)}: a total is suppressed though some of its cells are published`);
      }
      if (d.kind === "statistic" && isRedacted(r[d.countColumn]) && !isRedacted(v)) problems.push(`${at(c)}: a statistic is published where its count is suppressed`);
      if (d.kind === "midpoint6" && !isRedacted(v) && !(Number(v) === 0 || (Number.isSafeInteger(Number(v)) && Number(v) % 6 === 3))) {
        problems.push(`${at(c)}: ${String(v)} is not a midpoint-6 value`);
      }
    }
  });
  const tr = declaration.totalRows;
  if (tr) {
    const cats = Object.entries(declaration.columns).filter(([c, d]) => d.kind === "category" && c !== tr.column).map(([c]) => c);
    const key = (r: Readonly<Record<string, unknown>>): string => JSON.stringify(cats.map((c) => String(r[c])));
    const counts = Object.entries(declaration.columns).filter(([, d]) => d.kind === "count").map(([c]) => c);
    table.rows.forEach((t, i) => {
      if (String(t[tr.column]) !== tr.value) return;
      const parts = table.rows.filter((r) => String(r[tr.column]) !== tr.value && key(r) === key(t));
      for (const c of counts) {
        const want = sumPublished(parts.map((r) => num(r[c])));
        if (num(t[c]) !== want) problems.push(`row ${i + 1}, column ${JSON.stringify(c)}: the total ${String(t[c])} is not the sum of the published cells (${want ?? REDACTED})`);
      }
    });
  }
  return problems;
}

/**
 * Writes `table` as CSV to `file` (making its folder) and its declaration
 * beside it as `<file>.sdc.json`, with `file` set to the table's name
 * (relative to the declaration's folder). `declaration` defaults to the one a
 * builder made; give one for a table you made yourself (`rows` as plain
 * objects, `columns` defaulting to the first row's keys). Refuses, with
 * every problem listed, a table that does not follow its declaration (see
 * {@link declarationProblems}). Returns the paths written.
 *
 * @example
 * ```ts
 * writeSafeTable("output/by_region.csv", frequencyTable(rows, "region"));
 * writeSafeTable("output/mine.csv", { rows: [{ group: "a", n: 10 }] }, {
 *   version: 1, columns: { group: { kind: "category" }, n: { kind: "count", threshold: 7, rounding: 5 } },
 * });
 * ```
 */
export function writeSafeTable(
  file: string,
  table: SafeTable | { readonly columns?: readonly string[]; readonly rows: readonly Readonly<Record<string, SafeValue>>[] },
  declaration?: Omit<TableDeclaration, "file"> & { file?: string },
): { file: string; declarationFile: string } {
  const decl = declaration ?? ("declaration" in table ? table.declaration : undefined);
  if (!decl) throw new DisclosureControlError(`writeSafeTable: ${file} needs a declaration of its columns' controls`);
  const t = { columns: table.columns ?? Object.keys(table.rows[0] ?? {}), rows: table.rows };
  const problems = declarationProblems(t, decl);
  if (problems.length) throw new DisclosureControlError(`writeSafeTable: ${file} does not follow its declaration:\n  ${problems.join("\n  ")}`);
  const declarationFile = file + DECLARATION_SUFFIX;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, toCSV(t));
  const written: TableDeclaration = { ...decl, version: 1, file: path.basename(file) };
  fs.writeFileSync(declarationFile, JSON.stringify(written, null, 2) + "\n");
  return { file, declarationFile };
}

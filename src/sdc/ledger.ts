// The differencing ledger: every table a project has released, so that a new
// table can be checked against them (`enclave sdc check --ledger DIR`). Two
// releases that are each safe can, subtracted, isolate a handful of patients.
//
// Format: DIR/ledger.jsonl, append-only, one JSON object (a LedgerEntry) per
// line, one line per release. Append-only so that a release is never
// rewritten and concurrent writers (one line each, O_APPEND) do not clobber
// each other; JSONL so that a line can be added without reading the rest.
// Other files in DIR are ignored. An absent DIR is an empty ledger (the first
// release of a project has nothing to be differenced against); a DIR that is a
// file, or a line that is not a ledger entry, is unreadable input (exit 2).
//
// What findDifferencing searches (only published counts: redacted and empty
// cells are skipped; only count columns of the same name are compared, so a
// `count` is never compared with an `n`, nor a crosstab's `Total` column with
// a frequency table's `count`):
// - Each cell is a set of constraints, dimension = category, ignoring
//   dimensions whose value is that table's total ("Total", "All", "Overall",
//   or the declared totalRows value): a total row is the margin over that
//   dimension.
// - (a) the same cell: equal constraints (the same table over another
//   population, or the same file released again with other numbers, or the
//   total row of another table that is exactly this cell). Entries with the
//   same sha256 as the new table are skipped: re-releasing identical bytes
//   discloses nothing new.
// - (b) margin and subgroup: one cell's constraints a proper subset of the
//   other's, in either direction (a new margin minus a released subgroup, or a
//   released margin minus a new subgroup); dimensions must match by name, so
//   unrelated tables (by region vs by ethnicity) are not compared. Up to
//   MAX_DIMENSIONS dimensions a cell; beyond that, only (a).
// - A pair is flagged when the published difference d is not 0 and the range
//   the true difference can lie in meets 1..threshold (or -threshold..-1).
//   A count rounded to base b (nearest, halves up) stands for any true count
//   in [p - floor(b/2), p + ceil(b/2) - 1], so a published difference of 5
//   between counts rounded to 5 stands for 1..9, and of 10 for 6..14: with
//   the defaults (threshold 7, base 5) differences of 5 and 10 are flagged, of
//   15 or more are not. The base of a count is its declared rounding, or,
//   undeclared, the checker's --base when the count is a multiple of it (1
//   otherwise). A published difference of 0 is never flagged: it tells no
//   more than the rounding of one count.
// - One failure per cell of the new table (the first pair found).
//
// Not searched: totals recomputed from rounded cells carry more than one
// rounding error (modelled as one); sums of several released cells against a
// new cell (a released total minus its published cells, leaving the redacted
// remainder, then minus a new cell), chains through more than two releases,
// wide tables' column categories as a dimension, midpoint6 columns and
// statistics (means, rates).

import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { type TableDeclaration } from "./declarations.js";
import { type Kind, SdcInputError, TOTAL_WORDS, asInteger, findDeclaration, guessKinds, isBlank, parseTable } from "./inputs.js";

export const LEDGER_FILE = "ledger.jsonl";
/** Cells with more constraints than this are compared only for equality (subsets are enumerated). */
export const MAX_DIMENSIONS = 10;

export interface LedgerCell {
  /** The data row of the table, from 1. */
  row: number;
  /** The row's value in each dimension, in the order of `dimensions`. */
  categories: string[];
  /** The published count, or null when redacted (or empty). */
  value: number | null;
}

export interface LedgerCounts {
  column: string;
  /** The declared rounding base, or null when undeclared or unrounded. */
  rounding: number | null;
  cells: LedgerCell[];
}

export interface LedgerEntry {
  version: 1;
  path: string;
  sha256: string;
  /** ISO 8601. */
  releasedAt: string;
  /** The declaration's `population`, else the table's path. */
  population: string;
  /** The category columns. */
  dimensions: string[];
  /** Each dimension's categories, in order of first appearance. */
  categories: Record<string, string[]>;
  /** The values that mean "all categories" in each dimension (total rows). */
  totals: Record<string, string[]>;
  counts: LedgerCounts[];
}

/** A table described as the ledger records it, with its header (for the checker). */
export function describeTable(file: string, bytes: Buffer, declaration?: TableDeclaration, releasedAt: Date = new Date()): { entry: LedgerEntry; header: string[] } {
  const { header, rows } = parseTable(file, bytes);
  let kinds: Kind[];
  if (declaration !== undefined) kinds = header.map((name) => declaration.columns[name]?.kind ?? "other");
  else kinds = guessKinds(header, rows);
  const dims = header.flatMap((name, j) => (kinds[j] === "category" ? [{ name, j }] : []));
  const categories: Record<string, string[]> = {};
  const totals: Record<string, string[]> = {};
  for (const { name, j } of dims) {
    const seen = new Set<string>();
    for (const row of rows) seen.add((row[j] ?? "").trim());
    categories[name] = [...seen];
    const tr = declaration?.totalRows;
    totals[name] = tr !== undefined ? (tr.column === name ? [tr.value] : []) : [...seen].filter((v) => TOTAL_WORDS.has(v.toLowerCase()));
  }
  const counts: LedgerCounts[] = header.flatMap((name, j) => {
    if (kinds[j] !== "count") return [];
    const d = declaration?.columns[name];
    const rounding = d?.kind === "count" && d.rounding !== null && d.rounding > 1 ? d.rounding : null;
    const cells = rows.map((row, i): LedgerCell => {
      const v = row[j] ?? "";
      const n = isBlank(v) ? undefined : asInteger(v);
      return { row: i + 1, categories: dims.map((x) => (row[x.j] ?? "").trim()), value: n === undefined || n < 0 ? null : n };
    });
    return [{ column: name, rounding, cells }];
  });
  const entry: LedgerEntry = {
    version: 1,
    path: file,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    releasedAt: releasedAt.toISOString(),
    population: declaration?.population ?? file,
    dimensions: dims.map((x) => x.name),
    categories,
    totals,
    counts,
  };
  return { entry, header };
}

function ledgerFile(dir: string): string {
  return path.join(dir, LEDGER_FILE);
}

/**
 * Records the release of the CSV table `file` in the ledger in `dir` (made if
 * absent). Without `declaration`, the one beside the table is used, else its
 * columns are guessed as the checker guesses them.
 */
export function addToLedger(dir: string, file: string, declaration?: TableDeclaration, releasedAt: Date = new Date()): LedgerEntry {
  if (path.extname(file).toLowerCase() !== ".csv") throw new SdcInputError(`${file}: only CSV tables go in the ledger`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new SdcInputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const { entry } = describeTable(file, bytes, declaration ?? findDeclaration(file, []), releasedAt);
  checkFolder(dir);
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(ledgerFile(dir), JSON.stringify(entry) + "\n");
  return entry;
}

function checkFolder(dir: string): boolean {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat !== undefined && !stat.isDirectory()) throw new SdcInputError(`the ledger ${dir} is not a folder`);
  return stat !== undefined;
}

/** Every release recorded in `dir`, oldest first: none when `dir` does not exist. */
export function readLedger(dir: string): LedgerEntry[] {
  if (!checkFolder(dir)) return [];
  let text: string;
  try {
    text = fs.readFileSync(ledgerFile(dir), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new SdcInputError(`cannot read the ledger ${ledgerFile(dir)}: ${(e as Error).message}`);
  }
  const out: LedgerEntry[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new SdcInputError(`${ledgerFile(dir)}: line ${i + 1}: not valid JSON: ${(e as Error).message}`);
    }
    if (!isEntry(value)) throw new SdcInputError(`${ledgerFile(dir)}: line ${i + 1}: not a ledger entry (version 1)`);
    out.push(value);
  });
  return out;
}

function isEntry(v: unknown): v is LedgerEntry {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Partial<LedgerEntry>;
  return (
    e.version === 1 &&
    typeof e.path === "string" &&
    typeof e.sha256 === "string" &&
    typeof e.population === "string" &&
    Array.isArray(e.dimensions) &&
    typeof e.totals === "object" &&
    e.totals !== null &&
    Array.isArray(e.counts) &&
    e.counts.every((c) => typeof c?.column === "string" && Array.isArray(c.cells))
  );
}

// ---------------------------------------------------------------- differencing

export interface DifferencingOptions {
  /** Differences from 1 to this isolate too few patients: 7 by default. */
  threshold?: number;
  /** Undeclared counts that are multiples of this are taken as rounded to it: 5 by default. */
  base?: number;
}

export interface Differencing {
  /** The new table's data row (from 1), column and published value. */
  row: number;
  column: string;
  value: number;
  released: LedgerEntry;
  releasedRow: number;
  releasedValue: number;
  /** "same": the same cell; "margin": the new cell is a margin of the released one; "subgroup": the reverse. */
  kind: "same" | "margin" | "subgroup";
  /** The range the true difference (new − released) can lie in. */
  range: [number, number];
  message: string;
}

interface Cell {
  row: number;
  value: number;
  /** dimension=value pairs, sorted, totals left out. */
  constraints: string[];
  rounding: number | null;
}

function cellsOf(entry: LedgerEntry, counts: LedgerCounts): Cell[] {
  const out: Cell[] = [];
  for (const c of counts.cells) {
    if (c.value === null) continue;
    const constraints = entry.dimensions
      .map((d, k) => [d, c.categories[k] ?? ""] as const)
      .filter(([d, v]) => !(entry.totals[d] ?? []).includes(v))
      .map(([d, v]) => JSON.stringify([d, v]))
      .sort();
    out.push({ row: c.row, value: c.value, constraints, rounding: counts.rounding });
  }
  return out;
}

/** The true counts a published count can stand for. */
function preimage(p: number, rounding: number | null, base: number): [number, number] {
  const b = rounding ?? (base > 1 && p % base === 0 ? base : 1);
  return [Math.max(0, p - Math.floor(b / 2)), p + Math.ceil(b / 2) - 1];
}

function subsets(items: readonly string[], proper: boolean): string[][] {
  if (items.length > MAX_DIMENSIONS) return proper ? [] : [[...items]];
  const out: string[][] = [];
  for (let mask = 0; mask < 1 << items.length; mask++) {
    if (proper && mask === (1 << items.length) - 1) continue;
    out.push(items.filter((_, k) => (mask >> k) & 1));
  }
  return out;
}

const keyOf = (constraints: readonly string[]) => constraints.join("\u0000");

function describe(constraints: readonly string[]): string {
  if (constraints.length === 0) return "the grand total";
  return constraints
    .map((c) => {
      const [d, v] = JSON.parse(c) as [string, string];
      return `${d}=${v}`;
    })
    .join(", ");
}

/** The pairs of a new table's cells and released cells whose difference may isolate 1 to `threshold` patients. */
export function findDifferencing(newTable: LedgerEntry, ledger: readonly LedgerEntry[], options: DifferencingOptions = {}): Differencing[] {
  const threshold = options.threshold ?? 7;
  const base = options.base ?? 5;
  const found = new Map<string, Differencing>();
  for (const released of ledger) {
    if (released.sha256 === newTable.sha256) continue;
    for (const nc of newTable.counts) {
      const rc = released.counts.find((c) => c.column === nc.column);
      if (rc === undefined) continue;
      const newCells = cellsOf(newTable, nc);
      const oldCells = cellsOf(released, rc);
      const oldByKey = group(oldCells);
      const newByKey = group(newCells);
      // (b) released subgroups of which a new cell is the margin: enumerated from the released side.
      const subgroups = new Map<Cell, Cell[]>();
      for (const r of oldCells) {
        for (const s of subsets(r.constraints, true)) {
          for (const n of newByKey.get(keyOf(s)) ?? []) {
            const list = subgroups.get(n) ?? [];
            list.push(r);
            subgroups.set(n, list);
          }
        }
      }
      for (const n of newCells) {
        const at = `${n.row}\u0000${nc.column}`;
        if (found.has(at)) continue;
        // (a) equal constraints, and (b) released margins of this new cell.
        const pairs: [Cell, Differencing["kind"]][] = [];
        for (const s of subsets(n.constraints, false)) {
          const kind = s.length === n.constraints.length ? "same" : "subgroup";
          for (const r of oldByKey.get(keyOf(s)) ?? []) pairs.push([r, kind]);
        }
        for (const r of subgroups.get(n) ?? []) pairs.push([r, "margin"]);
        for (const [r, kind] of pairs) {
          const hit = compare(n, r, kind, nc.column, released, threshold, base);
          if (hit !== undefined) {
            found.set(at, hit);
            break;
          }
        }
      }
    }
  }
  return [...found.values()].sort((a, b) => a.row - b.row || a.column.localeCompare(b.column));
}

function group(cells: readonly Cell[]): Map<string, Cell[]> {
  const m = new Map<string, Cell[]>();
  for (const c of cells) {
    const k = keyOf(c.constraints);
    const list = m.get(k) ?? [];
    list.push(c);
    m.set(k, list);
  }
  return m;
}

function compare(n: Cell, r: Cell, kind: Differencing["kind"], column: string, released: LedgerEntry, threshold: number, base: number): Differencing | undefined {
  const d = n.value - r.value;
  if (d === 0) return undefined;
  const [nlo, nhi] = preimage(n.value, n.rounding, base);
  const [rlo, rhi] = preimage(r.value, r.rounding, base);
  const lo = nlo - rhi;
  const hi = nhi - rlo;
  const meets = (a: number, b: number) => lo <= b && hi >= a;
  if (threshold < 1 || !(meets(1, threshold) || meets(-threshold, -1))) return undefined;
  const what =
    kind === "same"
      ? `the same cell (${describe(n.constraints)})`
      : kind === "margin"
        ? `this margin (${describe(n.constraints)}) minus the released subgroup (${describe(r.constraints)})`
        : `the released margin (${describe(r.constraints)}) minus this subgroup (${describe(n.constraints)})`;
  const range = lo === hi ? `${Math.abs(d)}` : d > 0 ? `${Math.max(lo, 1)} to ${hi}` : `${Math.max(-hi, 1)} to ${-lo}`;
  const message =
    `differencing with ${released.path} (released ${released.releasedAt}, population ${JSON.stringify(released.population)}, row ${r.row}): ` +
    `${what}: ${kind === "subgroup" ? `${r.value} − ${n.value} = ${-d}` : `${n.value} − ${r.value} = ${d}`}, which may isolate ${range} patients (1 to ${threshold} must not be isolated)`;
  return { row: n.row, column, value: n.value, released, releasedRow: r.row, releasedValue: r.value, kind, range: [lo, hi], message };
}

// Dummy data that meets the population: candidate patients are drawn with
// values taken mostly from what the definition compares its columns with (see
// analyse.ts), each is tested against the population with the memory engine,
// and only those in it are kept, until there are exactly as many as asked for.
// The random choices that led to kept patients become more likely (a simple
// cross-entropy search), so that populations with many conditions are found
// quickly. When no candidate meets the population, the conditions that are
// never true (alone, or in pairs) are named.

import {
  type Dataset,
  type Measures,
  INTERVAL_END,
  INTERVAL_START,
  denominatorPopulation,
  nodeId,
  parameterSubstituter,
  type Scalar,
  type ScalarType,
  type Series,
  Q,
  addMonths,
  checkScalar,
  formatIsoDate,
  isCodeType,
  isMultiCodeType,
  makeDataset,
  parseIsoDate,
  tablesRequiredFor,
  walk,
} from "../querymodel/index.js";
import { MemoryEngine } from "../engines/memory/index.js";
import type { Row, TableReader, TableSpec } from "../engines/types.js";
import { type SynthConstraints, synthTables } from "../synth/schema.js";
import { type Hints, type Offset, analyse, columnKey } from "./analyse.js";
import { describeSeries } from "./describe.js";
import { Random, seedHash } from "./random.js";

export const DEFAULT_POPULATION_SIZE = 1000;
export const DEFAULT_SEED = 1;

export interface DummyDataOptions {
  populationSize?: number;
  seed?: number | string;
}

/** The population cannot be met by generated data; the message says which conditions conflict. */
export class DummyDataError extends Error {
  override name = "DummyDataError";
}

interface ColumnInfo {
  readonly name: string;
  readonly type: ScalarType;
  readonly constraints: SynthConstraints;
}
export interface DummyTable {
  readonly name: string;
  readonly patientLevel: boolean;
  readonly columns: readonly ColumnInfo[];
}

let knownConstraints: Map<string, Map<string, SynthConstraints>> | undefined;
function constraintsOf(table: string, column: string): SynthConstraints {
  if (!knownConstraints) {
    knownConstraints = new Map(synthTables("all").map((t) => [t.name, new Map(t.columns.map((c) => [c.name, c.constraints]))]));
  }
  return knownConstraints.get(table)?.get(column) ?? {};
}

/** The stored tables the series read, each with the union of the columns the definition declares. */
export function tablesRead(roots: readonly Series[]): DummyTable[] {
  const found = new Map<string, { patientLevel: boolean; columns: Map<string, ScalarType> }>();
  for (const n of walk(roots)) {
    if (n.kind !== "SelectTable" && n.kind !== "SelectPatientTable") continue;
    const entry = found.get(n.name) ?? { patientLevel: n.kind === "SelectPatientTable", columns: new Map<string, ScalarType>() };
    for (const [c, t] of Object.entries(n.schema)) if (!entry.columns.has(c)) entry.columns.set(c, t);
    found.set(n.name, entry);
  }
  return [...found]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, { patientLevel, columns }]) => ({
      name,
      patientLevel,
      columns: [...columns].map(([c, type]) => ({ name: c, type, constraints: constraintsOf(name, c) })),
    }));
}

/** Serves generated rows to an engine, in the column order each table node asks for. */
export class DummyTableReader implements TableReader {
  private readonly columns: Map<string, string[]>;
  constructor(
    tables: readonly DummyTable[],
    private readonly rows: Readonly<Record<string, readonly Row[]>>,
  ) {
    this.columns = new Map(tables.map((t) => [t.name, t.columns.map((c) => c.name)]));
  }
  async read(table: TableSpec): Promise<Row[]> {
    const rows = Object.hasOwn(this.rows, table.name) ? this.rows[table.name]! : [];
    const have = this.columns.get(table.name) ?? [];
    const want = Object.keys(table.schema);
    if (want.length === have.length && want.every((c, i) => have[i] === c)) return rows as Row[];
    const at = want.map((c) => have.indexOf(c));
    return rows.map((r) => [r[0]!, ...at.map((i) => (i < 0 ? null : r[i + 1]!))]);
  }
}

// ---- choices that learn ---------------------------------------------------------

type Choice = [number[], number];

class Chooser {
  private readonly weights = new Map<string, number[]>();
  log: Choice[] = [];
  constructor(public rng: Random) {}
  choose(key: string, initial: readonly number[]): number {
    let w = this.weights.get(key);
    if (!w) this.weights.set(key, (w = [...initial]));
    const i = this.rng.weighted(w);
    this.log.push([w, i]);
    return i;
  }
  static reward(choices: readonly Choice[], amount: number): void {
    for (const [w, i] of choices) w[i]! += amount;
  }
}

// ---- values --------------------------------------------------------------------

const DAY_1900 = parseIsoDate("1900-01-01")!;
const DAY_9999 = parseIsoDate("9999-12-31")!;
const DEFAULT_ANCHOR = parseIsoDate("2024-01-01")!;
const WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"];
const DIGITS = "0123456789";
const ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const OPCS_LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ";

function chars(rng: Random, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}

function randomCode(rng: Random, type: ScalarType): string {
  switch (type) {
    case "snomedct":
    case "dmd":
      return String(rng.int(1, 9)) + chars(rng, DIGITS, rng.int(5, 9));
    case "ctv3":
      return chars(rng, ALNUM, 5);
    case "icd10":
    case "icd10multi":
      return rng.pick([...LETTERS]) + chars(rng, DIGITS, rng.int(2, 3));
    case "opcs4":
    case "opcs4multi":
      return rng.pick([...OPCS_LETTERS]) + chars(rng, DIGITS, rng.int(2, 3));
    case "bnf":
      return "2" + String(rng.int(0, 3)) + chars(rng, DIGITS, 9);
    default:
      return rng.pick(WORDS);
  }
}

function shift(day: number, amount: number, unit: Offset["unit"]): number {
  if (unit === "days") return day + amount;
  const moved = addMonths(formatIsoDate(day), unit === "years" ? amount * 12 : amount);
  return moved === null ? day : parseIsoDate(moved as string)!;
}

function firstOfMonth(day: number): number {
  const s = formatIsoDate(day);
  return parseIsoDate(`${s.slice(0, 8)}01`)!;
}

/** How one column's values are drawn: its pools, prepared once. */
class ColumnPlan {
  readonly key: string;
  readonly values: Scalar[];
  readonly dates: number[];
  readonly offsets: readonly Offset[];
  readonly modes: string[];
  readonly modeWeights: number[];
  constructor(
    readonly table: string,
    readonly column: ColumnInfo,
    hints: Hints,
  ) {
    this.key = columnKey(table, column.name);
    const h = hints.columns.get(this.key);
    const type = column.type;
    const values: Scalar[] = [];
    for (let v of h?.values ?? []) {
      if (type === "int" && typeof v === "number") v = Math.round(v);
      if (isMultiCodeType(type) && typeof v !== "string") continue;
      if (checkScalar(type, v) === undefined && !values.includes(v)) values.push(v);
    }
    const cats = column.constraints.categories;
    this.values = cats ? values.filter((v) => cats.includes(v as string)) : values;
    this.dates = type === "date" ? this.values.map((v) => parseIsoDate(v as string)!) : [];
    this.offsets = type === "date" ? (h?.offsets ?? []) : [];
    const modes: [string, number][] = [];
    if (cats) modes.push(["category", 1]);
    else if (type === "date") {
      if (this.offsets.length) modes.push(["offset", 4]);
      if (this.dates.length) modes.push(["value", 4]);
      // A date of birth is decades before the definition's dates, not near them.
      if (hints.dates.length && !column.constraints.firstOfMonth) modes.push(["global", 2]);
      modes.push(["free", 1]);
    } else if (type === "bool") modes.push(["bool", 1]);
    else {
      if (this.values.length) modes.push(["value", isCodeType(type) || isMultiCodeType(type) ? 12 : 4]);
      modes.push(["free", 1]);
    }
    this.modes = modes.map(([m]) => m);
    this.modeWeights = modes.map(([, w]) => w);
  }

  draw(ch: Chooser, hints: Hints, previous: Scalar | undefined): Scalar {
    const { rng } = ch;
    const k = this.column.constraints;
    const type = this.column.type;
    if (!k.notNull && ch.choose(`${this.key}:null`, [12, 1]) === 1) return null;
    // Ties: an event often shares a value with the patient's previous event.
    if (previous !== undefined && previous !== null && rng.chance(0.15)) return previous;
    const mode = this.modes[ch.choose(`${this.key}:mode`, this.modeWeights)]!;
    switch (mode) {
      case "category": {
        const cats = k.categories!;
        return cats[ch.choose(`${this.key}:category`, cats.map((c) => (this.values.includes(c as string) ? 3 : 1)))] as Scalar;
      }
      case "bool":
        return ch.choose(`${this.key}:bool`, [1, 1]) === 1;
      case "offset": {
        const i = ch.choose(`${this.key}:offsets`, this.offsets.map(() => 1));
        const o = this.offsets[i]!;
        const delta = [-2, -1, 0, 1, 2][ch.choose(`${this.key}:offset${i}:delta`, [1, 2, 3, 2, 1])]!;
        const amount = o.amount + delta;
        const base = shift(o.anchor, o.sign * amount, o.unit);
        const unitDays = o.unit === "years" ? 365 : o.unit === "months" ? 28 : 1;
        return this.finishDate(base + o.sign * rng.int(0, unitDays - 1));
      }
      case "value":
        if (type === "date") {
          const i = ch.choose(`${this.key}:values`, this.dates.map(() => 1));
          return this.finishDate(this.jitterDate(ch, `${this.key}:value${i}`, this.dates[i]!));
        }
        return this.numberNear(ch, this.values[ch.choose(`${this.key}:values`, this.values.map(() => 1))]!);
      case "global": {
        const i = ch.choose(`${this.key}:global`, hints.dates.map(() => 1));
        return this.finishDate(this.jitterDate(ch, `${this.key}:global${i}`, hints.dates[i]!));
      }
      default:
        return this.free(rng, hints);
    }
  }

  private jitterDate(ch: Chooser, key: string, day: number): number {
    const sign = [-1, 0, 1][ch.choose(`${key}:sign`, [3, 1, 3])]!;
    if (sign === 0) return day;
    const scale = ch.choose(`${key}:scale`, [2, 2, 2]);
    // Far into the past, but not far into the future (the definition's dates are mostly recent).
    const amount = scale === 0 ? ch.rng.int(1, 31) : scale === 1 ? ch.rng.int(32, 365) : ch.rng.int(366, sign < 0 ? 365 * 15 : 365 * 2);
    return day + sign * amount;
  }

  private numberNear(ch: Chooser, v: Scalar): Scalar {
    if (typeof v !== "number") return v;
    const type = this.column.type;
    const sign = [-1, 0, 1][ch.choose(`${this.key}:n${v}:sign`, [3, 2, 3])]!;
    const spread = Math.max(1, Math.abs(v) * 0.25);
    let x = v + sign * ch.rng.next() * spread * (ch.choose(`${this.key}:n${v}:scale`, [2, 1]) === 0 ? 1 : 4);
    x = type === "int" ? (sign === 0 ? v : Math.round(x) === v ? v + sign : Math.round(x)) : Math.round(x * 10) / 10;
    return this.clamp(x);
  }

  private clamp(x: number): number {
    const r = this.column.constraints.range;
    if (r) x = Math.min(r[1], Math.max(r[0], x));
    return x;
  }

  private finishDate(day: number): string {
    day = Math.min(DAY_9999, Math.max(DAY_1900, day));
    if (this.column.constraints.firstOfMonth) day = firstOfMonth(day);
    return formatIsoDate(day);
  }

  private free(rng: Random, hints: Hints): Scalar {
    const k = this.column.constraints;
    switch (this.column.type) {
      case "date": {
        const anchor = hints.dates.length ? hints.dates[hints.dates.length - 1]! : DEFAULT_ANCHOR;
        return this.finishDate(anchor - rng.int(0, 365 * 90));
      }
      case "int":
        return k.range ? rng.int(k.range[0], k.range[1]) : rng.int(1, 60);
      case "float":
        return this.clamp(Math.round(rng.normal(30, 10) * 10) / 10);
      case "str":
        return rng.pick(WORDS);
      case "bool":
        return rng.chance(0.5);
      default:
        return randomCode(rng, this.column.type);
    }
  }
}

// Date columns of one row that come in order (the second never before the first).
const ORDERED_DATES: readonly [string, string][] = [
  ["start_date", "end_date"],
  ["date_of_birth", "date_of_death"],
  ["admission_date", "discharge_date"],
  ["date_start", "date_end"],
];

class TablePlan {
  readonly columns: ColumnPlan[];
  readonly ordered: [number, number][] = [];
  readonly counts: number[];
  readonly countWeights: number[];
  constructor(
    readonly table: DummyTable,
    hints: Hints,
    required: boolean,
  ) {
    this.columns = table.columns.map((c) => new ColumnPlan(table.name, c, hints));
    const dateAt = (name: string): number => table.columns.findIndex((c) => c.name === name && c.type === "date");
    for (const [from, to] of ORDERED_DATES) {
      const a = dateAt(from), b = dateAt(to);
      if (a >= 0 && b >= 0) this.ordered.push([a, b]);
    }
    if (table.patientLevel) {
      // Everyone has a patients record; other one-row tables (deaths, say) are for some.
      this.counts = table.name === "patients" || required ? [1] : [0, 1];
      this.countWeights = this.counts.length === 1 ? [1] : [4, 1];
    } else {
      const options = new Map<number, number>([[0, 1.5], [1, 3], [2, 2.5], [3, 2], [4, 1.5], [6, 1], [10, 0.5]]);
      for (const n of hints.counts.get(table.name) ?? []) {
        for (const m of [n - 1, n, n + 1]) if (m >= 0 && m <= 50) options.set(m, (options.get(m) ?? 0) + 1);
      }
      if (required) options.delete(0);
      const sorted = [...options].sort(([a], [b]) => a - b);
      this.counts = sorted.map(([n]) => n);
      this.countWeights = sorted.map(([, w]) => w);
    }
  }

  rowsFor(ch: Chooser, hints: Hints, pid: number, into: Row[]): void {
    const n = this.counts[ch.choose(`${this.table.name}:count`, this.countWeights)]!;
    let previous: Scalar[] | undefined;
    for (let r = 0; r < n; r++) {
      const row: Scalar[] = [pid];
      this.columns.forEach((c, i) => row.push(c.draw(ch, hints, previous?.[i + 1])));
      for (const [a, b] of this.ordered) {
        const x = row[a + 1], y = row[b + 1];
        if (typeof x !== "string" || typeof y !== "string" || y >= x) continue;
        // An end before its start: swap them; a death before birth: no death.
        if (this.columns[a]!.column.constraints.firstOfMonth) row[b + 1] = this.columns[b]!.column.constraints.notNull ? x : null;
        else [row[a + 1], row[b + 1]] = [y, x];
      }
      into.push(row);
      previous = row;
    }
  }
}

// ---- the search -------------------------------------------------------------------

function conjuncts(s: Series): Series[] {
  return s.kind === "Function" && s.fn === "And" ? [...conjuncts(s.args[0]!), ...conjuncts(s.args[1]!)] : [s];
}

async function evaluate(dataset: Dataset, reader: TableReader): Promise<Row[]> {
  const out: Row[] = [];
  for await (const batch of new MemoryEngine(reader).execute(dataset)) out.push(...batch);
  return out;
}

const quote = (s: Series): string => `"${describeSeries(s)}"`;

async function explain(population: Series, tables: readonly DummyTable[], rows: Record<string, Row[]>, tried: number, found: number, wanted: number): Promise<string> {
  const head =
    found === 0
      ? `the population cannot be satisfied: none of ${tried} generated patients was in it`
      : `the population is too hard to satisfy with dummy data: only ${found} of the ${wanted} patients asked for were found among ${tried} generated patients`;
  const parts = conjuncts(population);
  if (parts.length < 2) return `${head} (the population: ${quote(population)})`;
  const probe = makeDataset(Q.value("bool", true), parts.map((series, i) => ({ name: `c${i}`, series })));
  const results = await evaluate(probe, new DummyTableReader(tables, rows));
  const isTrue = parts.map((_, i) => results.filter((r) => r[i + 1] === true).map((r) => r[0] as number));
  const never = parts.filter((_, i) => isTrue[i]!.length === 0);
  if (never.length > 0) return `${head}; ${never.length === 1 ? "this condition is" : "these conditions are"} never true: ${never.map(quote).join(", ")}`;
  const pairs: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const a = new Set(isTrue[i]);
    for (let j = i + 1; j < parts.length; j++) {
      if (!isTrue[j]!.some((p) => a.has(p))) pairs.push(`${quote(parts[i]!)} and ${quote(parts[j]!)}`);
    }
  }
  if (pairs.length > 0) return `${head}; these conditions are never true together: ${pairs.join("; ")}`;
  const rare = parts.map((p, i) => ({ p, n: isTrue[i]!.length })).sort((x, y) => x.n - y.n).slice(0, 3);
  return `${head}; each condition is sometimes true but rarely all together; the rarest: ${rare.map(({ p, n }) => `${quote(p)} (${n} of ${tried})`).join(", ")}`;
}

export interface GeneratedTables {
  readonly tables: readonly DummyTable[];
  readonly rows: Record<string, Row[]>;
  /** Candidate patients generated to find the population. */
  readonly tried: number;
}

/** Generates tables whose patients, exactly `populationSize` of them (ids 1 to N), are all in the population. */
export async function generateTablesFor(population: Series, others: readonly Series[], options: DummyDataOptions = {}): Promise<GeneratedTables> {
  const size = options.populationSize ?? DEFAULT_POPULATION_SIZE;
  const seed = seedHash(options.seed ?? DEFAULT_SEED);
  const roots = [population, ...others];
  const tables = tablesRead(roots);
  const hints = analyse(roots);
  const required = tablesRequiredFor(population);
  const plans = tables.map((t) => new TablePlan(t, hints, required.has(t.name)));
  const rows: Record<string, Row[]> = Object.fromEntries(tables.map((t) => [t.name, []]));
  const test = makeDataset(population, []);
  const chooser = new Chooser(new Random(seed, 0));

  let found = 0;
  let tried = 0;
  let rate = 0.3;
  let last: Record<string, Row[]> = rows;
  for (let batchNo = 1; found < size; batchNo++) {
    const need = size - found;
    const n = Math.min(20_000, Math.max(64, Math.ceil((need / Math.max(rate, 0.005)) * 1.15)));
    chooser.rng = new Random(seed, batchNo);
    const batch: Record<string, Row[]> = Object.fromEntries(tables.map((t) => [t.name, []]));
    const logs: Choice[][] = [];
    const offsets: number[][] = [];
    for (let pid = 1; pid <= n; pid++) {
      chooser.log = [];
      offsets.push(plans.map((p) => batch[p.table.name]!.length));
      for (const p of plans) p.rowsFor(chooser, hints, pid, batch[p.table.name]!);
      logs.push(chooser.log);
    }
    const reader = new DummyTableReader(tables, batch);
    const accepted = (await evaluate(test, reader)).map((r) => r[0] as number);
    tried += n;
    last = batch;
    for (const pid of accepted) Chooser.reward(logs[pid - 1]!, 1);
    for (const pid of accepted) {
      if (found >= size) break;
      found++;
      plans.forEach((p, t) => {
        const all = batch[p.table.name]!;
        const start = offsets[pid - 1]![t]!;
        const end = pid < n ? offsets[pid]![t]! : all.length;
        for (let i = start; i < end; i++) rows[p.table.name]!.push([found, ...all[i]!.slice(1)]);
      });
    }
    rate = Math.max(0.001, (found + 1) / (tried + 3));
    if ((found === 0 && tried >= 4000) || (found < size && tried >= 200 * size + 20_000)) {
      throw new DummyDataError(await explain(population, tables, last, n, found, size));
    }
  }
  return { tables, rows, tried };
}

/** Dummy tables for a dataset: `populationSize` patients (default 1000), all in its population, deterministic for a seed. */
export async function generateDummyTables(dataset: Dataset, options: DummyDataOptions = {}): Promise<Record<string, Row[]>> {
  return (await generateTablesFor(dataset.population, dataset.variables.map((v) => v.series), withDefaults(dataset, options))).rows;
}

/** The dataset run over its dummy tables: exactly `populationSize` rows. */
export async function generateDummyDataset(dataset: Dataset, options: DummyDataOptions = {}): Promise<Row[]> {
  const { tables, rows } = await generateTablesFor(dataset.population, dataset.variables.map((v) => v.series), withDefaults(dataset, options));
  return evaluate(dataset, new DummyTableReader(tables, rows));
}

/** The options given, else the dataset's `configureDummyData`, else the defaults. */
export function withDefaults(dataset: { dummyData?: DummyDataOptions }, options: DummyDataOptions = {}): Required<DummyDataOptions> {
  return {
    populationSize: options.populationSize ?? dataset.dummyData?.populationSize ?? DEFAULT_POPULATION_SIZE,
    seed: options.seed ?? dataset.dummyData?.seed ?? DEFAULT_SEED,
  };
}


/**
 * What dummy data for measures must meet: some measure's denominator in some
 * interval (the interval dates filled in); the numerators and group-by
 * series, in every interval, shape the rest of the values.
 */
export function measuresPopulation(measures: Measures): { population: Series; others: Series[] } {
  const alternatives = new Map<number, Series>();
  const others = new Map<number, Series>();
  for (const m of measures.measures) {
    for (const [start, end] of m.intervals) {
      const sub = parameterSubstituter({ [INTERVAL_START]: start, [INTERVAL_END]: end });
      const p = sub(denominatorPopulation(m.denominator));
      alternatives.set(nodeId(p), p);
      for (const s of [m.numerator, ...m.groupBy.map((g) => g.series)]) {
        const t = sub(s);
        others.set(nodeId(t), t);
      }
    }
  }
  const population = [...alternatives.values()].reduce((a, b) => Q.fn("Or", a, b));
  return { population, others: [...others.values()] };
}

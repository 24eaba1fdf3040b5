// Dummy data that meets the population: candidate patients are drawn with
// values taken mostly from what the definition compares its columns with (see
// analyse.ts, columns.ts), their tables made to agree with one another (see
// tables.ts), each is tested against the population with the memory engine,
// and only those in it are kept, until there are exactly as many as asked for.
// The random choices learn from each batch which options lead into the
// population (see chooser.ts), so that populations with many conditions are
// found quickly. When no candidate meets the population, the conditions that
// are never true (alone, or in pairs) are named.
//
// Nothing here reads the clock: the same definition and seed give the same
// tables on any day and any machine.

import {
  type Dataset,
  type Measures,
  INTERVAL_END,
  INTERVAL_START,
  denominatorPopulation,
  nodeId,
  parameterSubstituter,
  type ScalarType,
  type Series,
  Q,
  makeDataset,
  tablesRequiredFor,
  walk,
} from "../querymodel/index.js";
import { MemoryEngine } from "../engines/memory/index.js";
import type { Row, TableReader, TableSpec } from "../engines/types.js";
import { type SynthConstraints, synthTables } from "../synth/schema.js";
import { type ColumnHints, type Hints, analyse, columnKey } from "./analyse.js";
import { Chooser } from "./chooser.js";
import { describeSeries } from "./describe.js";
import { Random, seedHash } from "./random.js";
import { type DummyTable, type Person, TablePlan } from "./tables.js";

export type { DummyTable } from "./tables.js";

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

// Candidates are drawn and tested in batches: big enough that the memory
// engine's fixed cost per run is small, small enough that the choices learnt
// from one batch soon shape the next, and that few are drawn beyond the need.
const FIRST_BATCH = 256;
const MAX_BATCH = 4096;
// If nothing at all is in the population after this many candidates, the
// consistency between tables may be what stands in the way (a definition can
// ask for an event before birth): it is given up for the rest of the search.
const CONSISTENT_UNTIL = 4000;
// Below this share of candidates in the population, learning sharpens, up to a limit.
const HARD = 0.25;
const MAX_SHARPNESS = 3;

/** patients.date_of_death also learns from what the definition says of ons_deaths.date, as the two are kept equal. */
function withSharedDeathDates(hints: Hints, tables: readonly DummyTable[]): Hints {
  const has = (t: string, c: string) => tables.some((x) => x.name === t && x.columns.some((k) => k.name === c && k.type === "date"));
  if (!has("patients", "date_of_death") || !has("ons_deaths", "date")) return hints;
  const ons = hints.columns.get(columnKey("ons_deaths", "date"));
  if (!ons) return hints;
  const key = columnKey("patients", "date_of_death");
  const own = hints.columns.get(key);
  const merged: ColumnHints = own
    ? { values: [...own.values, ...ons.values.filter((v) => !own.values.includes(v))], groups: [...own.groups, ...ons.groups], offsets: [...own.offsets, ...ons.offsets] }
    : ons;
  return { ...hints, columns: new Map([...hints.columns, [key, merged]]) };
}

/** Generates tables whose patients, exactly `populationSize` of them (ids 1 to N), are all in the population. */
export async function generateTablesFor(population: Series, others: readonly Series[], options: DummyDataOptions = {}): Promise<GeneratedTables> {
  const size = options.populationSize ?? DEFAULT_POPULATION_SIZE;
  const seed = seedHash(options.seed ?? DEFAULT_SEED);
  const roots = [population, ...others];
  const tables = tablesRead(roots);
  const hints = withSharedDeathDates(analyse(roots), tables);
  const required = tablesRequiredFor(population);
  const patientsHaveDeaths = tables.some((t) => t.name === "patients" && t.columns.some((c) => c.name === "date_of_death" && c.type === "date"));
  const plans = tables.map((t) => new TablePlan(t, hints, required.has(t.name), patientsHaveDeaths));
  // The patients table first, then the other one-row tables, then events: each may depend on the ones before.
  const rank = (p: TablePlan): number => (p.table.name === "patients" ? 0 : p.table.patientLevel ? 1 : 2);
  const order = plans.map((p, i) => i).sort((a, b) => rank(plans[a]!) - rank(plans[b]!) || a - b);
  const rows: Record<string, Row[]> = Object.fromEntries(tables.map((t) => [t.name, []]));
  const into = plans.map((p) => rows[p.table.name]!);
  const chooser = new Chooser(new Random(seed, 0));
  const person: Person = { birth: undefined, death: undefined };
  const test = makeDataset(population, []);

  let found = 0;
  let tried = 0;
  let consistent = true;
  let sharpness = 1;
  let triedUntilInconsistent = 0;
  let rate = 0.3;
  let last: Record<string, Row[]> = rows;
  let lastSize = 0;
  for (let batchNo = 1; found < size; batchNo++) {
    const need = size - found;
    // What is learnt from one batch usually raises the rate of the next, so a batch is at most four times the last.
    const n = Math.min(batchNo === 1 ? FIRST_BATCH : Math.min(MAX_BATCH, 4 * lastSize), Math.max(64, Math.ceil((need / rate) * 1.1) + 16));
    chooser.rng = new Random(seed, batchNo);
    chooser.clear();
    const batch = plans.map((): Row[] => []);
    // Where each candidate's rows start in each table, and its choices in the log: n + 1 marks.
    const starts = plans.map(() => new Int32Array(n + 1));
    const marks = new Int32Array(n + 1);
    for (let pid = 1; pid <= n; pid++) {
      for (let t = 0; t < plans.length; t++) starts[t]![pid - 1] = batch[t]!.length;
      marks[pid - 1] = chooser.mark();
      person.birth = person.death = undefined;
      for (const t of order) plans[t]!.rowsFor(chooser, pid, person, batch[t]!, consistent);
    }
    for (let t = 0; t < plans.length; t++) starts[t]![n] = batch[t]!.length;
    marks[n] = chooser.mark();

    const byName: Record<string, Row[]> = Object.fromEntries(plans.map((p, t) => [p.table.name, batch[t]!]));
    const accepted = (await evaluate(test, new DummyTableReader(tables, byName))).map((r) => r[0] as number);
    tried += n;
    last = byName;
    lastSize = n;
    const isAccepted = new Uint8Array(n);
    for (const pid of accepted) isAccepted[pid - 1] = 1;
    // A population that few candidates meet even after learning: learn more boldly.
    if (accepted.length < n * HARD && batchNo > 1) sharpness = Math.min(MAX_SHARPNESS, sharpness + 0.5);
    chooser.learn(marks, isAccepted, sharpness);
    for (const pid of accepted) {
      if (found >= size) break;
      found++;
      for (let t = 0; t < plans.length; t++) {
        const from = batch[t]!;
        for (let i = starts[t]![pid - 1]!; i < starts[t]![pid]!; i++) {
          // The batch is thrown away, so its rows can be renumbered in place.
          const row = from[i] as unknown[];
          row[0] = found;
          into[t]!.push(row as Row);
        }
      }
    }
    // The latest batch says most about what the learnt choices give now.
    rate = Math.min(1, Math.max(0.002, (accepted.length + 1) / (n + 2)));
    if (found === 0 && consistent && tried >= CONSISTENT_UNTIL) {
      consistent = false;
      triedUntilInconsistent = tried;
    }
    if ((found === 0 && !consistent && tried - triedUntilInconsistent >= 4000) || (found < size && tried >= 200 * size + 20_000)) {
      throw new DummyDataError(await explain(population, tables, last, lastSize, found, size));
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

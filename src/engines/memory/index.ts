// The in-memory engine: the reference every other engine is compared with. It
// favours being obviously right over being fast: it loads every table the
// dataset reads, then evaluates the query model patient by patient, one handler
// per node kind. All scalar meaning comes from querymodel/semantics.ts.
//
// Rows of a many-rows frame are represented by their index in the frame's root
// table. A filter narrows the list of indices but never renames them, so a
// series of an ancestor domain (a column of the unfiltered table, say) can be
// evaluated on the rows of any frame below it: `e.where(c1).where(e.i1.gt(0))`.

import {
  type Aggregate,
  type Case,
  type Dataset,
  type Filter,
  type Frame,
  type FunctionCall,
  type InlinePatientTable,
  type ManyRowsFrame,
  type Node,
  type Parameter,
  type PickOneRowPerPatient,
  type Scalar,
  type SelectColumn,
  type SelectPatientTable,
  type SelectTable,
  type Series,
  type Sort,
  type Value,
  applyFunction,
  compareValues,
  countEpisodes,
  domainOf,
  Q,
  nodeId,
  walk,
} from "../../querymodel/index.js";
import type { Engine, Row, TableReader } from "../types.js";

/** What a series evaluates to: a scalar, or a set (the right side of `In`). */
type Val = Scalar | ReadonlySet<Scalar>;

/** Rows of a frame's root table, indexed for lookups by patient and by column. */
interface LoadedTable {
  readonly rows: readonly Row[];
  /** Column name → position in a row (patient_id is position 0). */
  readonly columns: ReadonlyMap<string, number>;
  /** Patient → indices of the patient's rows, in the table's order. */
  readonly byPatient: ReadonlyMap<number, readonly number[]>;
}

type RootTable = SelectTable | SelectPatientTable | InlinePatientTable;

const BATCH_SIZE = 1000;
const NO_ROWS: readonly number[] = Object.freeze([]);

export class MemoryEngine implements Engine {
  readonly name = "memory";

  constructor(private readonly reader: TableReader) {}

  async *execute(dataset: Dataset): AsyncIterable<Row[]> {
    const roots: Series[] = [dataset.population, ...dataset.variables.map((v) => v.series)];
    const nodes = walk(roots);
    const tables = await this.loadTables(nodes);

    const universe = new Set<number>();
    for (const t of tables.values()) for (const pid of t.byPatient.keys()) universe.add(pid);
    const patients = [...universe].sort((a, b) => a - b);

    const plan = new Plan(tables, tieBreakKeys(nodes));
    let batch: Row[] = [];
    for (const pid of patients) {
      const ev = new PatientEvaluator(plan, pid);
      if (ev.patientValue(dataset.population) !== true) continue;
      batch.push([pid, ...dataset.variables.map((v) => ev.patientValue(v.series) as Scalar)]);
      if (batch.length >= BATCH_SIZE) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  private async loadTables(nodes: readonly Node[]): Promise<Map<number, LoadedTable>> {
    const tables = new Map<number, LoadedTable>();
    for (const n of nodes) {
      if (n.kind !== "SelectTable" && n.kind !== "SelectPatientTable" && n.kind !== "InlinePatientTable") continue;
      const id = nodeId(n);
      if (tables.has(id)) continue;
      const rows =
        n.kind === "InlinePatientTable"
          ? n.rows
          : await this.reader.read({ name: n.name, schema: n.schema, patientLevel: n.kind === "SelectPatientTable" });
      tables.set(id, indexTable(n, rows));
    }
    return tables;
  }
}

function indexTable(table: RootTable, rows: readonly Row[]): LoadedTable {
  const columns = new Map(Object.keys(table.schema).map((c, i) => [c, i + 1]));
  const byPatient = new Map<number, number[]>();
  rows.forEach((row, i) => {
    const pid = row[0] as number;
    const list = byPatient.get(pid);
    if (list) list.push(i);
    else byPatient.set(pid, [i]);
  });
  return { rows, columns, byPatient };
}

// Ties on every sort key are broken by the picked row's columns that the
// dataset selects from that pick (ascending, in column-name order), so that
// every engine picks the same row. Structurally equal picks are the same pick,
// wherever they appear. Each column becomes a series on the pick's root table:
// a root-table column evaluated at a row index is that row's value, whatever
// frame the row came through.
function tieBreakKeys(nodes: readonly Node[]): Map<number, Series[]> {
  const byPick = new Map<number, { pick: PickOneRowPerPatient; names: Set<string> }>();
  for (const n of nodes) {
    if (n.kind !== "SelectColumn" || n.source.kind !== "PickOneRowPerPatient") continue;
    const id = nodeId(n.source);
    const entry = byPick.get(id) ?? { pick: n.source, names: new Set<string>() };
    entry.names.add(n.name);
    byPick.set(id, entry);
  }
  return new Map(
    [...byPick].map(([id, { pick, names }]) => [id, [...names].sort(compareNames).map((name) => Q.column(rootOf(pick.source), name))]),
  );
}

const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** NULL first, then compareValues. */
function compareNullsFirst(a: Scalar, b: Scalar): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : -1) : 1;
  return compareValues(a, b);
}

/** The table at the root of a frame. */
function rootOf(frame: Frame): RootTable {
  switch (frame.kind) {
    case "SelectTable":
    case "SelectPatientTable":
    case "InlinePatientTable":
      return frame;
    default:
      return rootOf(frame.source);
  }
}

/** A frame whose rows are exactly a many-rows series' domain (any one will do: a sort does not change the rows). */
function domainFrame(series: Series): ManyRowsFrame {
  const want = domainOf(series);
  const found = findDomainFrame(series, want);
  if (!found) throw new Error(`memory engine: no frame found for the domain of a ${series.kind} node`);
  return found;
}
function findDomainFrame(series: Series, want: readonly number[]): ManyRowsFrame | undefined {
  const d = domainOf(series);
  if (d.length !== want.length || d.some((id, i) => want[i] !== id)) return undefined;
  switch (series.kind) {
    case "SelectColumn":
      return series.source as ManyRowsFrame;
    case "Function":
      for (const a of series.args) {
        const f = findDomainFrame(a, want);
        if (f) return f;
      }
      return undefined;
    case "Case":
      for (const s of [...series.cases.flatMap((c) => [c.when, c.then]), series.otherwise]) {
        const f = s && findDomainFrame(s, want);
        if (f) return f;
      }
      return undefined;
    default:
      return undefined;
  }
}

/** What is shared by every patient's evaluation: the loaded tables and the tie-break columns. */
class Plan {
  constructor(
    readonly tables: ReadonlyMap<number, LoadedTable>,
    readonly tieBreaks: ReadonlyMap<number, readonly Series[]>,
  ) {}

  table(frame: Frame): LoadedTable {
    const t = this.tables.get(nodeId(rootOf(frame)));
    if (!t) throw new Error("memory engine: a table was not loaded");
    return t;
  }
}

// ==========================================================================
// HANDLERS: one per node kind. TypeScript checks that every kind has one.
// ==========================================================================

type Of<U, K> = Extract<U, { kind: K }>;

/**
 * A series handler evaluates the series for the evaluator's patient. `row` is
 * the root-table index of the current row when the series is evaluated on the
 * rows of a many-rows frame, and undefined at patient level; patient-level
 * series ignore it, which is how they apply to each of the patient's rows.
 */
type SeriesHandlers = { [K in Series["kind"]]: (ev: PatientEvaluator, node: Of<Series, K>, row: number | undefined) => Val };
/** A frame handler gives the frame's rows for the patient, as root-table indices, in the frame's order. */
type FrameHandlers = { [K in Frame["kind"]]: (ev: PatientEvaluator, node: Of<Frame, K>) => readonly number[] };

const SERIES: SeriesHandlers = {
  Value(_ev, node: Value) {
    return Array.isArray(node.value) ? new Set(node.value as Scalar[]) : (node.value as Scalar);
  },

  Parameter(_ev, node: Parameter) {
    throw new Error(`memory engine: parameter ${JSON.stringify(node.name)} has no value (parameters must be substituted before a query runs)`);
  },

  SelectColumn(ev, node: SelectColumn, row) {
    const table = ev.plan.table(node.source);
    const r = isManyRows(node.source) ? row : ev.frameRows(node.source)[0];
    // A patient with no row in a patient frame reads NULL in every column.
    if (r === undefined) {
      if (isManyRows(node.source)) throw new Error("memory engine: a many-rows column was evaluated without a row");
      return null;
    }
    return table.rows[r]![table.columns.get(node.name)!]!;
  },

  Aggregate(ev, node: Aggregate) {
    if (isFrameNode(node.source)) {
      const n = ev.frameRows(node.source).length;
      if (node.fn === "Exists") return n > 0;
      if (node.fn === "Count") return n;
      throw new Error(`memory engine: ${node.fn} over a frame`);
    }
    const source = node.source;
    const all = ev.frameRows(domainFrame(source)).map((r) => ev.value(source, r) as Scalar);
    const values = all.filter((v) => v !== null);
    return aggregate(node, values);
  },

  Function(ev, node: FunctionCall, row) {
    return applyFunction(
      node.fn,
      node.args.map((a) => ev.value(a, row)),
    );
  },

  Case(ev, node: Case, row) {
    for (const c of node.cases) {
      if (ev.value(c.when, row) === true) return c.then === null ? null : ev.value(c.then, row);
    }
    return node.otherwise === null ? null : ev.value(node.otherwise, row);
  },
};

/** An aggregation over a patient's non-NULL values. */
function aggregate(node: Aggregate, values: readonly Scalar[]): Val {
  switch (node.fn) {
    case "Exists":
      return values.length > 0;
    case "Count":
      return values.length;
    case "CountDistinct":
      return new Set(values).size;
    case "CountEpisodes":
      return countEpisodes(values, node.maximumGapDays!);
    case "Min":
      return values.reduce<Scalar>((best, v) => (best === null || compareValues(v, best) < 0 ? v : best), null);
    case "Max":
      return values.reduce<Scalar>((best, v) => (best === null || compareValues(v, best) > 0 ? v : best), null);
    case "Sum":
      // Starting from 0 (not the first value) also turns a lone -0 into 0.
      return values.length === 0 ? null : values.reduce<number>((s, v) => s + (v as number), 0);
    case "Mean":
      return values.length === 0 ? null : values.reduce<number>((s, v) => s + (v as number), 0) / values.length;
    case "CombineAsSet":
      return new Set(values);
  }
}

const FRAMES: FrameHandlers = {
  SelectTable(ev, node: SelectTable) {
    return ev.plan.table(node).byPatient.get(ev.patientId) ?? NO_ROWS;
  },

  SelectPatientTable(ev, node: SelectPatientTable) {
    return ev.plan.table(node).byPatient.get(ev.patientId) ?? NO_ROWS;
  },

  InlinePatientTable(ev, node: InlinePatientTable) {
    return ev.plan.table(node).byPatient.get(ev.patientId) ?? NO_ROWS;
  },

  // Only a condition that is exactly true keeps a row: NULL drops it.
  Filter(ev, node: Filter) {
    return ev.frameRows(node.source).filter((r) => ev.value(node.condition, r) === true);
  },

  Sort(ev, node: Sort) {
    const keys = sortKeys(node);
    return [...ev.frameRows(node.source)].sort((a, b) => ev.compareRows(keys, a, b));
  },

  // "first" is the minimum of the total order, "last" the maximum; the total
  // order is the sort keys, then the tie-break columns.
  PickOneRowPerPatient(ev, node: PickOneRowPerPatient) {
    const keys = [...sortKeys(node.source), ...(ev.plan.tieBreaks.get(nodeId(node)) ?? [])];
    const sign = node.position === "first" ? -1 : 1;
    let best: number | undefined;
    for (const r of ev.frameRows(node.source)) {
      if (best === undefined || sign * ev.compareRows(keys, r, best) > 0) best = r;
    }
    return best === undefined ? NO_ROWS : [best];
  },
};

/**
 * The sort keys in force on a frame, most significant first: an outer Sort's
 * keys take precedence over those of a Sort below it (filters in between keep
 * the order they are given).
 */
function sortKeys(frame: ManyRowsFrame): Series[] {
  switch (frame.kind) {
    case "SelectTable":
      return [];
    case "Filter":
      return sortKeys(frame.source);
    case "Sort":
      return [...frame.sortBy, ...sortKeys(frame.source)];
  }
}

function isManyRows(frame: Frame): frame is ManyRowsFrame {
  return frame.kind === "SelectTable" || frame.kind === "Filter" || frame.kind === "Sort";
}
const FRAME_KINDS: ReadonlySet<string> = new Set<Frame["kind"]>([
  "SelectTable",
  "SelectPatientTable",
  "InlinePatientTable",
  "Filter",
  "Sort",
  "PickOneRowPerPatient",
]);
function isFrameNode(node: Series | Frame): node is Frame {
  return FRAME_KINDS.has(node.kind);
}

// ==========================================================================
// EVALUATION, one patient at a time
// ==========================================================================

class PatientEvaluator {
  // Per-patient caches, keyed by node id so structurally equal nodes share work.
  private readonly patientValues = new Map<number, Val>();
  private readonly rowsOfFrame = new Map<number, readonly number[]>();

  constructor(
    readonly plan: Plan,
    readonly patientId: number,
  ) {}

  /** A patient-level series' value for this patient. */
  patientValue(series: Series): Val {
    return this.value(series, undefined);
  }

  /** A series' value for this patient, at a root-table row when the series is many-rows. */
  value(series: Series, row: number | undefined): Val {
    if (domainOf(series).length > 0) return dispatchSeries(this, series, row);
    const id = nodeId(series);
    if (this.patientValues.has(id)) return this.patientValues.get(id)!;
    const v = dispatchSeries(this, series, undefined);
    this.patientValues.set(id, v);
    return v;
  }

  frameRows(frame: Frame): readonly number[] {
    const id = nodeId(frame);
    let rows = this.rowsOfFrame.get(id);
    if (rows === undefined) {
      rows = dispatchFrame(this, frame);
      this.rowsOfFrame.set(id, rows);
    }
    return rows;
  }

  /** Compares two rows by the keys, in order; NULL sorts first. */
  compareRows(keys: readonly Series[], a: number, b: number): number {
    for (const k of keys) {
      const c = compareNullsFirst(this.value(k, a) as Scalar, this.value(k, b) as Scalar);
      if (c !== 0) return c;
    }
    return 0;
  }
}

function dispatchSeries(ev: PatientEvaluator, node: Series, row: number | undefined): Val {
  const handler = SERIES[node.kind] as (ev: PatientEvaluator, node: Series, row: number | undefined) => Val;
  return handler(ev, node, row);
}
function dispatchFrame(ev: PatientEvaluator, node: Frame): readonly number[] {
  const handler = FRAMES[node.kind] as (ev: PatientEvaluator, node: Frame) => readonly number[];
  return handler(ev, node);
}

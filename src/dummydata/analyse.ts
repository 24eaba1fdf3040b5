// What a definition says about the values its tables should hold: the
// literals it compares each column with (codes of its codelists, dates,
// numbers, strings), ages and intervals measured from a column to a fixed
// date, the row counts it compares with, and every date it mentions. Dummy
// data draws most of its values from these, so that generated patients meet
// the population's conditions often and the variables' filters find rows.

import {
  type Frame,
  type Scalar,
  type Series,
  type Node,
  applyFunction,
  parseIsoDate,
  walk,
} from "../querymodel/index.js";

export type Unit = "days" | "months" | "years";

/** A column's value is `anchor - amount units` (an age on a date, say), or `anchor + amount units`. */
export interface Offset {
  readonly anchor: number; // days since 1970-01-01
  readonly amount: number;
  readonly unit: Unit;
  readonly sign: 1 | -1;
}

export interface ColumnHints {
  /** Literals the column is compared with, or whose set it is tested against. */
  readonly values: Scalar[];
  /** The same literals as the definition groups them: one codelist (or one compared value) a group. */
  readonly groups: Scalar[][];
  readonly offsets: Offset[];
}

export interface Hints {
  /** `table.column` → hints. */
  readonly columns: Map<string, ColumnHints>;
  /** Table → row counts the definition compares with. */
  readonly counts: Map<string, number[]>;
  /** Every date the definition mentions (days since 1970-01-01), sorted, without repeats. */
  readonly dates: number[];
}

export function columnKey(table: string, column: string): string {
  return `${table}.${column}`;
}

/** The stored table at the root of a frame (undefined for an inline table). */
export function rootTableName(f: Frame): string | undefined {
  while (f.kind === "Filter" || f.kind === "Sort" || f.kind === "PickOneRowPerPatient") f = f.source;
  return f.kind === "InlinePatientTable" ? undefined : f.name;
}

const PASS_THROUGH = new Set(["Negate", "CastToInt", "CastToFloat", "Absolute", "ToFirstOfMonth", "ToFirstOfYear"]);

/** The table column a series is (or is an aggregate or simple transform of). */
export function columnOf(s: Series): string | undefined {
  switch (s.kind) {
    case "SelectColumn": {
      const t = rootTableName(s.source);
      return t === undefined ? undefined : columnKey(t, s.name);
    }
    case "Aggregate":
      if ((s.fn === "Min" || s.fn === "Max" || s.fn === "Sum" || s.fn === "Mean") && s.source.kind === "SelectColumn") return columnOf(s.source);
      return undefined;
    case "Function":
      if (s.fn === "MinimumOf" || s.fn === "MaximumOf") return s.args.map(columnOf).find((c) => c !== undefined);
      return PASS_THROUGH.has(s.fn) ? columnOf(s.args[0]!) : undefined;
    default:
      return undefined;
  }
}

const NOT_CONSTANT = Symbol("not constant");
type Constant = Scalar | ReadonlySet<Scalar> | typeof NOT_CONSTANT;

/** The value of a series that reads no table and no parameter. */
export function constantOf(s: Series, cache = new Map<Series, Constant>()): Constant {
  const known = cache.get(s);
  if (known !== undefined) return known;
  let out: Constant = NOT_CONSTANT;
  if (s.kind === "Value") out = Array.isArray(s.value) ? new Set(s.value as Scalar[]) : (s.value as Scalar);
  else if (s.kind === "Function") {
    const args = s.args.map((a) => constantOf(a, cache));
    if (!args.includes(NOT_CONSTANT)) {
      try {
        out = applyFunction(s.fn, args as (Scalar | ReadonlySet<Scalar>)[]);
      } catch {
        out = NOT_CONSTANT;
      }
    }
  }
  cache.set(s, out);
  return out;
}
export const isConstant = (c: Constant): c is Scalar | ReadonlySet<Scalar> => c !== NOT_CONSTANT;

const COMPARISONS = new Set(["EQ", "NE", "LT", "LE", "GT", "GE"]);
const DIFFERENCES: Record<string, Unit> = { DateDifferenceInDays: "days", DateDifferenceInMonths: "months", DateDifferenceInYears: "years" };

function tableOfCount(s: Series): string | undefined {
  if (s.kind !== "Aggregate" || (s.fn !== "Count" && s.fn !== "CountDistinct" && s.fn !== "Exists")) return undefined;
  const src = s.source as Node;
  if (src.kind === "SelectColumn") return rootTableName(src.source);
  if (src.kind === "SelectTable" || src.kind === "Filter" || src.kind === "Sort") return rootTableName(src);
  return undefined;
}

export function analyse(roots: readonly Series[]): Hints {
  const columns = new Map<string, ColumnHints>();
  const counts = new Map<string, number[]>();
  const dates = new Set<number>();
  const cache = new Map<Series, Constant>();
  const hintsFor = (key: string): ColumnHints => {
    let h = columns.get(key);
    if (!h) columns.set(key, (h = { values: [], groups: [], offsets: [] }));
    return h;
  };
  const groupKeys = new Set<string>();
  const addGroup = (key: string, group: Scalar[]): void => {
    const values = group.filter((v) => v !== null);
    const id = `${key}\u0000${JSON.stringify(values)}`;
    if (values.length === 0 || groupKeys.has(id)) return;
    groupKeys.add(id);
    hintsFor(key).groups.push(values);
  };
  const addValue = (key: string, v: Scalar): void => {
    if (v === null) return;
    const h = hintsFor(key);
    if (!h.values.includes(v)) h.values.push(v);
    if (typeof v === "string") {
      const d = parseIsoDate(v);
      if (d !== undefined) dates.add(d);
    }
  };

  const compare = (lhs: Series, rhs: Series): void => {
    const c = constantOf(rhs, cache);
    if (!isConstant(c) || c instanceof Set) return;
    const value = c as Scalar;
    const col = columnOf(lhs);
    if (col !== undefined) {
      addGroup(col, [value]);
      return addValue(col, value);
    }
    const table = tableOfCount(lhs);
    if (table !== undefined && typeof value === "number") {
      const list = counts.get(table) ?? [];
      if (!list.includes(value)) list.push(value);
      counts.set(table, list);
      return;
    }
    // (anchor - column).years compared with n: the column is about n years before the anchor.
    if (lhs.kind === "Function" && DIFFERENCES[lhs.fn] && typeof value === "number") {
      const unit = DIFFERENCES[lhs.fn]!;
      const [a, b] = lhs.args as [Series, Series];
      const ca = constantOf(a, cache), cb = constantOf(b, cache);
      const colA = columnOf(a), colB = columnOf(b);
      if (typeof ca === "string" && colB !== undefined) hintsFor(colB).offsets.push({ anchor: parseIsoDate(ca)!, amount: value, unit, sign: -1 });
      if (typeof cb === "string" && colA !== undefined) hintsFor(colA).offsets.push({ anchor: parseIsoDate(cb)!, amount: value, unit, sign: 1 });
    }
    // column.year compared with n: a date in that year.
    if (lhs.kind === "Function" && lhs.fn === "YearFromDate" && typeof value === "number" && value >= 1 && value <= 9999) {
      const col = columnOf(lhs.args[0]!);
      if (col !== undefined) addValue(col, `${String(value).padStart(4, "0")}-07-01`);
    }
  };

  for (const n of walk(roots)) {
    if (n.kind === "Value" && n.type === "date" && typeof n.value === "string") dates.add(parseIsoDate(n.value)!);
    if (n.kind !== "Function") continue;
    const c = constantOf(n, cache);
    if (typeof c === "string" && n.type === "date") dates.add(parseIsoDate(c)!);
    if (COMPARISONS.has(n.fn)) {
      compare(n.args[0]!, n.args[1]!);
      compare(n.args[1]!, n.args[0]!);
    } else if (n.fn === "In" || n.fn === "StringContains") {
      const col = columnOf(n.args[0]!);
      const set = constantOf(n.args[1]!, cache);
      if (col === undefined || !isConstant(set)) continue;
      const group = set instanceof Set ? [...set] : [set as Scalar];
      addGroup(col, group);
      for (const v of group) addValue(col, v);
    }
  }
  return { columns, counts, dates: [...dates].sort((a, b) => a - b) };
}

// The query model: every node type, built only through the constructors below,
// which validate and freeze what they build. Engines walk these trees; the
// language builds them; the JSON form (json.ts) is how a definition crosses from
// the researcher's process to the trusted side.
//
// Public surface: the node types, their constructors (`Q.*`), `typeOf`,
// `domainOf`, `schemaOf`, the errors, and `FUNCTIONS` / `AGGREGATIONS`.

import {
  type Scalar,
  type ScalarType,
  type SeriesType,
  checkScalar,
  describe,
  elementType,
  isCodeType,
  isComparableType,
  isMultiCodeType,
  isNumericType,
  isScalarType,
  isSetType,
  isStringLikeType,
  setOf,
} from "./types.js";

// ==========================================================================
// ERRORS
// ==========================================================================

export class QueryModelError extends Error {
  override name = "QueryModelError";
}

/** A node was given an argument of the wrong type: "Add.rhs requires int but received float". */
export class TypeValidationError extends QueryModelError {
  override name = "TypeValidationError";
  constructor(
    readonly node: string,
    readonly field: string,
    readonly expected: string,
    readonly received: string,
  ) {
    super(`${node}.${field} requires ${expected} but received ${received}`);
  }
}

/** Series that live on different sets of rows were combined. */
export class DomainMismatchError extends QueryModelError {
  override name = "DomainMismatchError";
}

/** The population would include patients who have no data at all. */
export class PopulationError extends QueryModelError {
  override name = "PopulationError";
}

// ==========================================================================
// NODE TYPES
// ==========================================================================

export type Schema = Readonly<Record<string, ScalarType>>;

/** A many-rows-per-patient table. */
export interface SelectTable {
  readonly kind: "SelectTable";
  readonly name: string;
  readonly schema: Schema;
  /** The permission a project needs to read this table (issue: analysis scope). */
  readonly requiredPermission?: string;
}
/** A one-row-per-patient table. */
export interface SelectPatientTable {
  readonly kind: "SelectPatientTable";
  readonly name: string;
  readonly schema: Schema;
  readonly requiredPermission?: string;
}
/** A one-row-per-patient table whose rows are in the definition: [patient_id, ...columns]. */
export interface InlinePatientTable {
  readonly kind: "InlinePatientTable";
  readonly schema: Schema;
  readonly rows: readonly (readonly Scalar[])[];
}
export interface Filter {
  readonly kind: "Filter";
  readonly source: ManyRowsFrame;
  readonly condition: Series;
}
/** Orders rows by `sortBy` (first key most significant); NULL sorts first. */
export interface Sort {
  readonly kind: "Sort";
  readonly source: ManyRowsFrame;
  readonly sortBy: readonly Series[];
}
export interface PickOneRowPerPatient {
  readonly kind: "PickOneRowPerPatient";
  readonly source: ManyRowsFrame;
  readonly position: "first" | "last";
}

export type ManyRowsFrame = SelectTable | Filter | Sort;
export type PatientFrame = SelectPatientTable | InlinePatientTable | PickOneRowPerPatient;
export type Frame = ManyRowsFrame | PatientFrame;

/** A constant: a scalar, or an array of scalars for a set. */
export interface Value {
  readonly kind: "Value";
  readonly type: SeriesType;
  readonly value: Scalar | readonly Scalar[];
}
/** A placeholder substituted before a query runs (measures' interval dates). */
export interface Parameter {
  readonly kind: "Parameter";
  readonly type: ScalarType;
  readonly name: string;
}
export interface SelectColumn {
  readonly kind: "SelectColumn";
  readonly type: ScalarType;
  readonly source: Frame;
  readonly name: string;
}
export interface Aggregate {
  readonly kind: "Aggregate";
  readonly type: SeriesType;
  readonly fn: AggregationName;
  readonly source: Series | Frame;
  /** CountEpisodes only: the largest gap, in days, within one episode. */
  readonly maximumGapDays?: number;
}
export interface FunctionCall {
  readonly kind: "Function";
  readonly type: SeriesType;
  readonly fn: FunctionName;
  readonly args: readonly Series[];
}
/** The first case whose condition is true gives the value; else `otherwise` (NULL when absent). */
export interface Case {
  readonly kind: "Case";
  readonly type: SeriesType;
  readonly cases: readonly { readonly when: Series; readonly then: Series | null }[];
  readonly otherwise: Series | null;
}

export type Series = Value | Parameter | SelectColumn | Aggregate | FunctionCall | Case;
export type Node = Frame | Series;

export interface DummyDataConfig {
  readonly populationSize?: number;
  readonly seed?: number | string;
}

export interface Dataset {
  readonly kind: "Dataset";
  readonly population: Series;
  /** In the order they were added; names are unique. */
  readonly variables: readonly { readonly name: string; readonly series: Series }[];
  readonly dummyData?: DummyDataConfig;
}

// ==========================================================================
// OPERATIONS: their signatures
// ==========================================================================

type Signature = (args: readonly SeriesType[]) => SeriesType | string;

// Each signature returns the result type, or says what the arguments should have been.
const sameType = (test: (t: SeriesType) => boolean, what: string, result?: SeriesType): Signature => (ts) => {
  const [a, b] = ts as [SeriesType, SeriesType];
  if (!test(a)) return `${what} but received ${a}`;
  if (a !== b) return `${a} on both sides but received ${a} and ${b}`;
  return result ?? a;
};
const unary = (test: (t: SeriesType) => boolean, what: string, result: (t: SeriesType) => SeriesType): Signature => (ts) =>
  test(ts[0]!) ? result(ts[0]!) : `${what} but received ${ts[0]}`;
const isBool = (t: SeriesType) => t === "bool";
const isDate = (t: SeriesType) => t === "date";
const isAny = () => true;
const dateAnd = (second: SeriesType, result: SeriesType): Signature => (ts) =>
  ts[0] !== "date" ? `date but received ${ts[0]}` : ts[1] !== second ? `${second} but received ${ts[1]}` : result;
const nary: Signature = (ts) => {
  if (ts.length < 2) return "at least two arguments";
  const t = ts[0]!;
  if (!isComparableType(t)) return `int, float, date, str or a code but received ${t}`;
  const other = ts.find((u) => u !== t);
  return other === undefined ? t : `${t} for every argument but received ${t} and ${other}`;
};

export const FUNCTIONS = {
  EQ: sameType(isAny, "any type", "bool"),
  NE: sameType(isAny, "any type", "bool"),
  LT: sameType(isComparableType, "int, float, date, str or a code", "bool"),
  LE: sameType(isComparableType, "int, float, date, str or a code", "bool"),
  GT: sameType(isComparableType, "int, float, date, str or a code", "bool"),
  GE: sameType(isComparableType, "int, float, date, str or a code", "bool"),
  And: sameType(isBool, "bool"),
  Or: sameType(isBool, "bool"),
  Not: unary(isBool, "bool", () => "bool"),
  IsNull: unary(isAny, "any type", () => "bool"),
  Negate: unary(isNumericType, "int or float", (t) => t),
  Absolute: unary(isNumericType, "int or float", (t) => t),
  Add: sameType(isNumericType, "int or float"),
  Subtract: sameType(isNumericType, "int or float"),
  Multiply: sameType(isNumericType, "int or float"),
  TrueDivide: sameType(isNumericType, "int or float", "float"),
  FloorDivide: sameType(isNumericType, "int or float", "int"),
  Power: sameType(isNumericType, "int or float", "float"),
  CastToInt: unary((t) => isNumericType(t) || t === "bool", "int, float or bool", () => "int"),
  CastToFloat: unary((t) => isNumericType(t) || t === "bool", "int, float or bool", () => "float"),
  StringContains: (ts) =>
    !(ts[0] === "str" || isMultiCodeType(ts[0]!) || isCodeType(ts[0]!))
      ? `str or a code but received ${ts[0]}`
      : ts[1] !== "str" && ts[1] !== ts[0]
        ? `str but received ${ts[1]}`
        : "bool",
  In: (ts) => {
    const [a, b] = ts as [SeriesType, SeriesType];
    if (isSetType(a)) return `a scalar but received ${a}`;
    if (!isSetType(b) || elementType(b) !== a) return `${setOf(a as ScalarType)} on the right but received ${b}`;
    return "bool";
  },
  YearFromDate: unary(isDate, "date", () => "int"),
  MonthFromDate: unary(isDate, "date", () => "int"),
  DayFromDate: unary(isDate, "date", () => "int"),
  ToFirstOfYear: unary(isDate, "date", () => "date"),
  ToFirstOfMonth: unary(isDate, "date", () => "date"),
  DateAddDays: dateAnd("int", "date"),
  DateAddMonths: dateAnd("int", "date"),
  DateAddYears: dateAnd("int", "date"),
  DateDifferenceInDays: dateAnd("date", "int"),
  DateDifferenceInMonths: dateAnd("date", "int"),
  DateDifferenceInYears: dateAnd("date", "int"),
  MinimumOf: nary,
  MaximumOf: nary,
} satisfies Record<string, Signature>;

export type FunctionName = keyof typeof FUNCTIONS;

const ARITY: Partial<Record<FunctionName, number>> = {
  Not: 1, IsNull: 1, Negate: 1, Absolute: 1, CastToInt: 1, CastToFloat: 1,
  YearFromDate: 1, MonthFromDate: 1, DayFromDate: 1, ToFirstOfYear: 1, ToFirstOfMonth: 1,
};

/** Aggregations: many rows in, one value per patient out. */
export const AGGREGATIONS = {
  // Exists and Count take a frame (any row) or a series (any non-NULL value).
  Exists: () => "bool",
  Count: () => "int",
  CountDistinct: () => "int",
  CountEpisodes: (t) => (t === "date" ? "int" : `date but received ${t}`),
  Min: (t) => (isComparableType(t) ? t : `int, float, date, str or a code but received ${t}`),
  Max: (t) => (isComparableType(t) ? t : `int, float, date, str or a code but received ${t}`),
  Sum: (t) => (isNumericType(t) ? t : `int or float but received ${t}`),
  Mean: (t) => (isNumericType(t) ? "float" : `int or float but received ${t}`),
  CombineAsSet: (t) => (isSetType(t) ? `a scalar but received ${t}` : setOf(t as ScalarType)),
} satisfies Record<string, (t: SeriesType) => SeriesType | string>;

export type AggregationName = keyof typeof AGGREGATIONS;

// ==========================================================================
// IDENTITY: structurally equal nodes get the same id
// ==========================================================================

const ids = new WeakMap<object, number>();
const internTable = new Map<string, number>();

/** A number that is equal for two nodes exactly when they are structurally equal. */
export function nodeId(node: Node): number {
  const known = ids.get(node);
  if (known !== undefined) return known;
  const key = JSON.stringify(node, (k, v) =>
    v !== node && v !== null && typeof v === "object" && "kind" in v && typeof v.kind === "string" && k !== ""
      ? { "#": nodeId(v as Node) }
      : v,
  );
  let id = internTable.get(key);
  if (id === undefined) {
    id = internTable.size + 1;
    internTable.set(key, id);
  }
  ids.set(node, id);
  return id;
}

// ==========================================================================
// DOMAINS
// ==========================================================================
//
// A domain is the set of rows a series has values for. The patient domain (one
// row per patient) is the root; each many-rows table is a domain below it; each
// filter makes a new domain below its source's (a sort keeps its source's).
//
// Rules:
//  * Patient-level series combine with anything: `e.i1.add(p.i1)`.
//  * Otherwise every many-rows input of an operation must share one domain.
//    Refused: `e.i1.add(f.i1)` (two tables), and `e.where(e.b).i1.add(e.i1)`
//    (the same table, filtered differently: the row counts differ).
//  * A filter's condition or a sort's key may come from the frame's own domain
//    or any ancestor of it, which is what lets filters chain tersely:
//    `e.where(e.b).where(e.i1.gt(0))`. Refused: `e.where(e.b).where(e.where(e.c).b)`.
//  * A sort key must be many-rows: sorting by a patient-level series means nothing.
//  * Aggregations need a many-rows input: `p.i1.sumForPatient()` is refused.
//  * A dataset's population and variables are patient-level.

/** The lineage of a domain: node ids from the table down; empty for the patient domain. */
export type Domain = readonly number[];
const PATIENT: Domain = [];
const domains = new WeakMap<object, Domain>();

export function domainOf(node: Node): Domain {
  const known = domains.get(node);
  if (known) return known;
  let d: Domain;
  switch (node.kind) {
    case "SelectTable":
      d = [nodeId(node)];
      break;
    case "Filter":
      d = [...domainOf(node.source), nodeId(node)];
      break;
    case "Sort":
      d = domainOf(node.source);
      break;
    case "SelectColumn":
      d = domainOf(node.source);
      break;
    case "Function":
      d = deepest(node.args.map(domainOf));
      break;
    case "Case":
      d = deepest(node.cases.flatMap((c) => [c.when, ...(c.then ? [c.then] : [])]).concat(node.otherwise ? [node.otherwise] : []).map(domainOf));
      break;
    default:
      d = PATIENT;
  }
  domains.set(node, d);
  return d;
}

export function isPatientLevel(node: Node): boolean {
  return domainOf(node).length === 0;
}

function isAncestor(a: Domain, b: Domain): boolean {
  return a.length <= b.length && a.every((id, i) => b[i] === id);
}
function sameDomain(a: Domain, b: Domain): boolean {
  return a.length === b.length && isAncestor(a, b);
}
function deepest(ds: Domain[]): Domain {
  return ds.reduce((a, b) => (b.length > a.length ? b : a), PATIENT);
}

function checkSharedDomain(what: string, inputs: readonly Node[]): void {
  const many = inputs.map(domainOf).filter((d) => d.length > 0);
  for (const d of many) {
    if (!sameDomain(d, many[0]!)) {
      throw new DomainMismatchError(
        `${what} combines series drawn from different many-rows frames (different tables, or the same table with different filters); ` +
          `aggregate them to one value per patient first, or build both from the same frame`,
      );
    }
  }
}

// ==========================================================================
// CONSTRUCTORS (validated, frozen)
// ==========================================================================

/** The columns of a frame, from the table at its root. */
export function schemaOf(frame: Frame): Schema {
  switch (frame.kind) {
    case "SelectTable":
    case "SelectPatientTable":
    case "InlinePatientTable":
      return frame.schema;
    default:
      return schemaOf(frame.source);
  }
}

export function typeOf(series: Series): SeriesType {
  return series.type;
}

function isSorted(frame: ManyRowsFrame): boolean {
  return frame.kind === "Sort" || (frame.kind === "Filter" && isSorted(frame.source));
}
function isManyRowsFrame(x: unknown): x is ManyRowsFrame {
  return isNode(x) && (x.kind === "SelectTable" || x.kind === "Filter" || x.kind === "Sort");
}
function isFrame(x: unknown): x is Frame {
  return isNode(x) && ["SelectTable", "Filter", "Sort", "SelectPatientTable", "InlinePatientTable", "PickOneRowPerPatient"].includes(x.kind);
}
export function isSeries(x: unknown): x is Series {
  return isNode(x) && ["Value", "Parameter", "SelectColumn", "Aggregate", "Function", "Case"].includes(x.kind);
}
function kindOf(x: unknown): string {
  return isNode(x) ? x.kind : describe(x);
}
function isNode(x: unknown): x is Node {
  return typeof x === "object" && x !== null && typeof (x as { kind?: unknown }).kind === "string";
}

const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]*$/;

function checkSchema(node: string, schema: unknown): Schema {
  if (typeof schema !== "object" || schema === null) throw new TypeValidationError(node, "schema", "an object of column → type", describe(schema));
  for (const [col, t] of Object.entries(schema)) {
    if (!IDENTIFIER.test(col)) throw new QueryModelError(`${node}: column name ${JSON.stringify(col)} must start with a letter and hold only letters, digits and _`);
    if (col === "patient_id") throw new QueryModelError(`${node}: patient_id is implicit in every table and cannot be declared as a column`);
    if (!isScalarType(t)) throw new TypeValidationError(node, `schema.${col}`, "a column type (bool, int, float, str, date or a code system)", describe(t));
  }
  return Object.freeze({ ...(schema as Schema) });
}

function series(node: string, field: string, x: unknown): Series {
  if (!isSeries(x)) throw new TypeValidationError(node, field, "a series", isNode(x) ? x.kind : describe(x));
  return x;
}

function freeze<T extends object>(x: T): T {
  return Object.freeze(x);
}

export const Q = {
  selectTable(name: string, schema: Schema, requiredPermission?: string): SelectTable {
    if (!IDENTIFIER.test(name)) throw new QueryModelError(`SelectTable: table name ${JSON.stringify(name)} is not a valid name`);
    return freeze({ kind: "SelectTable", name, schema: checkSchema("SelectTable", schema), ...(requiredPermission ? { requiredPermission } : {}) });
  },

  selectPatientTable(name: string, schema: Schema, requiredPermission?: string): SelectPatientTable {
    if (!IDENTIFIER.test(name)) throw new QueryModelError(`SelectPatientTable: table name ${JSON.stringify(name)} is not a valid name`);
    return freeze({ kind: "SelectPatientTable", name, schema: checkSchema("SelectPatientTable", schema), ...(requiredPermission ? { requiredPermission } : {}) });
  },

  inlinePatientTable(schema: Schema, rows: readonly (readonly Scalar[])[]): InlinePatientTable {
    const s = checkSchema("InlinePatientTable", schema);
    const cols = Object.entries(s);
    const seen = new Set<number>();
    const frozenRows = rows.map((row, i) => {
      if (!Array.isArray(row) || row.length !== cols.length + 1) {
        throw new QueryModelError(`InlinePatientTable row ${i + 1}: expected [patient_id, ${cols.map(([c]) => c).join(", ")}]`);
      }
      const pid = row[0];
      if (typeof pid !== "number" || !Number.isSafeInteger(pid)) throw new QueryModelError(`InlinePatientTable row ${i + 1}: patient_id must be an integer, got ${describe(pid)}`);
      if (seen.has(pid)) throw new QueryModelError(`InlinePatientTable row ${i + 1}: patient ${pid} appears twice (one row per patient)`);
      seen.add(pid);
      cols.forEach(([c, t], j) => {
        const why = checkScalar(t, row[j + 1] as Scalar);
        if (why) throw new QueryModelError(`InlinePatientTable row ${i + 1}, column ${c}: ${why}`);
      });
      return Object.freeze([...row]);
    });
    return freeze({ kind: "InlinePatientTable", schema: s, rows: Object.freeze(frozenRows) });
  },

  filter(source: ManyRowsFrame, condition: Series): Filter {
    if (!isManyRowsFrame(source)) throw new TypeValidationError("Filter", "source", "a many-rows frame", kindOf(source));
    series("Filter", "condition", condition);
    if (condition.type !== "bool") throw new TypeValidationError("Filter", "condition", "bool", condition.type);
    if (!isAncestor(domainOf(condition), domainOf(source))) {
      throw new DomainMismatchError("Filter: the condition is drawn from a different frame than the one being filtered (a different table, or the same table filtered differently)");
    }
    return freeze({ kind: "Filter", source, condition });
  },

  sort(source: ManyRowsFrame, sortBy: readonly Series[]): Sort {
    if (!isManyRowsFrame(source)) throw new TypeValidationError("Sort", "source", "a many-rows frame", kindOf(source));
    if (sortBy.length === 0) throw new QueryModelError("Sort: at least one sort key is required");
    sortBy.forEach((k, i) => {
      series("Sort", `sortBy[${i}]`, k);
      if (!isComparableType(k.type) && k.type !== "bool") throw new TypeValidationError("Sort", `sortBy[${i}]`, "a sortable type (int, float, date, str, bool or a code)", k.type);
      const d = domainOf(k);
      if (d.length === 0) throw new DomainMismatchError(`Sort: sort key ${i + 1} has one value per patient; sort by a column of the frame being sorted`);
      if (!isAncestor(d, domainOf(source))) throw new DomainMismatchError(`Sort: sort key ${i + 1} is drawn from a different frame than the one being sorted`);
    });
    return freeze({ kind: "Sort", source, sortBy: Object.freeze([...sortBy]) });
  },

  pick(source: ManyRowsFrame, position: "first" | "last"): PickOneRowPerPatient {
    if (!isManyRowsFrame(source)) throw new TypeValidationError("PickOneRowPerPatient", "source", "a many-rows frame", kindOf(source));
    if (!isSorted(source)) throw new TypeValidationError("PickOneRowPerPatient", "source", "a sorted frame (call sortBy first)", "an unsorted frame");
    if (position !== "first" && position !== "last") throw new TypeValidationError("PickOneRowPerPatient", "position", '"first" or "last"', describe(position));
    return freeze({ kind: "PickOneRowPerPatient", source, position });
  },

  value(type: SeriesType, value: Scalar | readonly Scalar[]): Value {
    if (isSetType(type)) {
      if (!Array.isArray(value)) throw new TypeValidationError("Value", "value", `an array for ${type}`, describe(value));
      const el = elementType(type);
      const uniq = [...new Set(value as Scalar[])];
      for (const v of uniq) {
        if (v === null) continue;
        const why = checkScalar(el, v);
        if (why) throw new QueryModelError(`Value: ${why}`);
      }
      return freeze({ kind: "Value", type, value: Object.freeze(uniq) });
    }
    if (!isScalarType(type)) throw new TypeValidationError("Value", "type", "a value type", describe(type));
    if (Array.isArray(value)) throw new TypeValidationError("Value", "value", type, "an array");
    const why = checkScalar(type, value as Scalar);
    if (why) throw new QueryModelError(`Value: ${why}`);
    return freeze({ kind: "Value", type, value: value as Scalar });
  },

  parameter(name: string, type: ScalarType): Parameter {
    if (!isScalarType(type)) throw new TypeValidationError("Parameter", "type", "a value type", describe(type));
    return freeze({ kind: "Parameter", name, type });
  },

  column(source: Frame, name: string): SelectColumn {
    if (!isFrame(source)) throw new TypeValidationError("SelectColumn", "source", "a frame", describe(source));
    const t = schemaOf(source)[name];
    if (!t || !Object.hasOwn(schemaOf(source), name)) {
      throw new QueryModelError(`SelectColumn: the frame has no column ${JSON.stringify(name)}; its columns are ${Object.keys(schemaOf(source)).join(", ")}`);
    }
    return freeze({ kind: "SelectColumn", type: t, source, name });
  },

  aggregate(fn: AggregationName, source: Series | Frame, maximumGapDays?: number): Aggregate {
    const sig = AGGREGATIONS[fn] as ((t: SeriesType) => SeriesType | string) | undefined;
    if (!sig) throw new QueryModelError(`Aggregate: unknown aggregation ${JSON.stringify(fn)}`);
    let type: SeriesType | string;
    if (isFrame(source)) {
      if (fn !== "Exists" && fn !== "Count") throw new TypeValidationError(fn, "source", "a series", "a frame");
      type = sig("bool");
    } else {
      series(fn, "source", source);
      if (isPatientLevel(source)) throw new DomainMismatchError(`${fn}: the series already has one value per patient; aggregate a series drawn from a many-rows frame`);
      type = sig(source.type);
    }
    if (!isScalarType(type) && !isSetType(type as SeriesType)) throw new TypeValidationError(fn, "source", type.replace(/ but received .*/, ""), type.replace(/.* but received /, ""));
    if (fn === "CountEpisodes") {
      if (typeof maximumGapDays !== "number" || !Number.isSafeInteger(maximumGapDays) || maximumGapDays < 0) {
        throw new TypeValidationError("CountEpisodes", "maximumGapDays", "a whole number of days, 0 or more", describe(maximumGapDays));
      }
      return freeze({ kind: "Aggregate", type: type as SeriesType, fn, source, maximumGapDays });
    }
    return freeze({ kind: "Aggregate", type: type as SeriesType, fn, source });
  },

  fn(fn: FunctionName, ...args: Series[]): FunctionCall {
    const sig = FUNCTIONS[fn] as Signature | undefined;
    if (!sig) throw new QueryModelError(`Function: unknown function ${JSON.stringify(fn)}`);
    const arity = ARITY[fn] ?? (fn === "MinimumOf" || fn === "MaximumOf" ? undefined : 2);
    if (arity !== undefined && args.length !== arity) throw new QueryModelError(`${fn} takes ${arity} argument${arity === 1 ? "" : "s"}, received ${args.length}`);
    args.forEach((a, i) => series(fn, `args[${i}]`, a));
    const result = sig(args.map((a) => a.type));
    if (!isScalarType(result)) {
      const [expected, received] = result.includes(" but received ") ? result.split(" but received ") : [result, args.map((a) => a.type).join(", ")];
      throw new TypeValidationError(fn, args.length === 1 ? "source" : "args", expected!, received!);
    }
    checkSharedDomain(fn, args);
    return freeze({ kind: "Function", type: result, fn, args: Object.freeze([...args]) });
  },

  case(cases: readonly { when: Series; then: Series | null }[], otherwise: Series | null): Case {
    if (cases.length === 0) throw new QueryModelError("Case: at least one when(...).then(...) is required");
    const values = [...cases.map((c) => c.then), otherwise].filter((v): v is Series => v !== null);
    if (values.length === 0) throw new QueryModelError("Case: every branch is null; give at least one value");
    const type = values[0]!.type;
    cases.forEach((c, i) => {
      series("Case", `when[${i}]`, c.when);
      if (c.when.type !== "bool") throw new TypeValidationError("Case", `when[${i}]`, "bool", c.when.type);
      if (c.then !== null) series("Case", `then[${i}]`, c.then);
    });
    for (const v of values) {
      if (v.type !== type) throw new TypeValidationError("Case", "then", `${type} in every branch`, v.type);
    }
    const inputs: Series[] = [...cases.flatMap((c) => [c.when, ...(c.then ? [c.then] : [])]), ...(otherwise ? [otherwise] : [])];
    checkSharedDomain("Case", inputs);
    return freeze({
      kind: "Case",
      type,
      cases: Object.freeze(cases.map((c) => Object.freeze({ when: c.when, then: c.then }))),
      otherwise,
    });
  },
};

// Variable names become column headers and must not clash with ours.
const RESERVED_VARIABLES = new Set(["patient_id", "population"]);

export function checkVariableName(name: string): void {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
    throw new QueryModelError(`Variable name ${JSON.stringify(name)} must start with a letter and hold only letters, digits and _`);
  }
  if (name.length > 100) throw new QueryModelError(`Variable name ${JSON.stringify(name.slice(0, 20))}... is longer than 100 characters`);
  if (RESERVED_VARIABLES.has(name)) throw new QueryModelError(`Variable name ${JSON.stringify(name)} is reserved`);
}

export function makeDataset(
  population: Series,
  variables: readonly { name: string; series: Series }[],
  dummyData?: DummyDataConfig,
): Dataset {
  series("Dataset", "population", population);
  if (population.type !== "bool") throw new TypeValidationError("Dataset", "population", "bool", population.type);
  if (!isPatientLevel(population)) throw new DomainMismatchError("Dataset: the population must have one value per patient (aggregate the events first, for example with existsForPatient())");
  const names = new Set<string>();
  for (const v of variables) {
    checkVariableName(v.name);
    if (names.has(v.name)) throw new QueryModelError(`Dataset: variable ${JSON.stringify(v.name)} is defined twice`);
    names.add(v.name);
    series("Dataset", `variables.${v.name}`, v.series);
    if (isSetType(v.series.type)) throw new TypeValidationError("Dataset", `variables.${v.name}`, "a scalar series", v.series.type);
    if (!isPatientLevel(v.series)) {
      throw new DomainMismatchError(`Dataset: variable ${JSON.stringify(v.name)} has many values per patient; a dataset column needs one value per patient (for example .firstForPatient(), .countForPatient())`);
    }
  }
  if (dummyData?.populationSize !== undefined && (!Number.isSafeInteger(dummyData.populationSize) || dummyData.populationSize < 0)) {
    throw new QueryModelError(`configureDummyData: populationSize must be a whole number, got ${describe(dummyData.populationSize)}`);
  }
  return freeze({
    kind: "Dataset",
    population,
    variables: Object.freeze(variables.map((v) => Object.freeze({ name: v.name, series: v.series }))),
    ...(dummyData ? { dummyData: Object.freeze({ ...dummyData }) } : {}),
  });
}

/** Every node reachable from `roots`, each once, children before parents. */
export function walk(roots: readonly Node[]): Node[] {
  const seen = new Set<Node>();
  const out: Node[] = [];
  const visit = (n: Node): void => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const c of children(n)) visit(c);
    out.push(n);
  };
  roots.forEach(visit);
  return out;
}

export function children(n: Node): Node[] {
  switch (n.kind) {
    case "Filter":
      return [n.source, n.condition];
    case "Sort":
      return [n.source, ...n.sortBy];
    case "PickOneRowPerPatient":
      return [n.source];
    case "SelectColumn":
      return [n.source];
    case "Aggregate":
      return [n.source];
    case "Function":
      return [...n.args];
    case "Case":
      return [...n.cases.flatMap((c) => [c.when, ...(c.then ? [c.then] : [])]), ...(n.otherwise ? [n.otherwise] : [])];
    default:
      return [];
  }
}

export { isStringLikeType };

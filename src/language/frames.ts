// Frames: tables and what filtering, sorting and picking make of them. Columns
// are properties (`clinicalEvents.snomedctCode`); the stored name of a column may
// differ from its property (core tables are snake_case in databases).

import {
  type CodeType,
  type Frame as QFrame,
  type ManyRowsFrame,
  type MultiCodeType,
  type Scalar,
  type ScalarType,
  Q,
  isScalarType,
} from "../querymodel/index.js";
import { EnclaveError, build } from "./errors.js";
import {
  type AnySeries,
  type BoolSeries,
  type CodeSeries,
  type DateSeries,
  type Dim,
  type FloatSeries,
  type IntSeries,
  type MultiCodeSeries,
  type StrSeries,
  isSeries,
  nodeOf,
  toNode,
  wrap,
} from "./series.js";

export type TableSchema = Readonly<Record<string, ScalarType>>;

export type ColumnSeries<T extends ScalarType, D extends Dim> = T extends "bool"
  ? BoolSeries<D>
  : T extends "int"
    ? IntSeries<D>
    : T extends "float"
      ? FloatSeries<D>
      : T extends "str"
        ? StrSeries<D>
        : T extends "date"
          ? DateSeries<D>
          : T extends CodeType
            ? CodeSeries<T, D>
            : T extends MultiCodeType
              ? MultiCodeSeries<T, D>
              : never;

/** The column properties of a frame whose columns are `S`, in dimension D. */
export type Columns<S extends TableSchema, D extends Dim> = { readonly [K in keyof S]: ColumnSeries<S[K], D> };

const FRAME = Symbol.for("enclave.frame");

/** How a frame's column properties map to stored columns: property → stored name. */
export type ColumnNames = Readonly<Record<string, string>>;

export function frameNode(f: BaseFrame): QFrame {
  return f[FRAME];
}

// Names a column property may not take, because the frame already uses them.
const FRAME_MEMBERS = new Set([
  "where", "exceptWhere", "sortBy", "firstForPatient", "lastForPatient", "countForPatient", "existsForPatient",
  "constructor", "toString", "valueOf", "then",
]);

// Properties that tools probe for (promises, JSON, inspection) and that must stay undefined.
const IGNORED_PROPS = new Set(["then", "toJSON", "asymmetricMatch", "nodeType", "$$typeof", "@@__IMMUTABLE_ITERABLE__@@", "@@__IMMUTABLE_RECORD__@@", "_isMockFunction", "constructor"]);

function frameName(node: QFrame): string {
  let f: QFrame = node;
  while (f.kind === "Filter" || f.kind === "Sort" || f.kind === "PickOneRowPerPatient") f = f.source;
  return f.kind === "InlinePatientTable" ? "the inline table" : `table ${f.name}`;
}

export abstract class BaseFrame {
  /** @internal */ readonly [FRAME]: QFrame;
  /** @internal */ readonly columnNames: ColumnNames;

  constructor(node: QFrame, columnNames: ColumnNames) {
    this[FRAME] = node;
    this.columnNames = columnNames;
    const dim: Dim = node.kind === "SelectTable" || node.kind === "Filter" || node.kind === "Sort" ? "event" : "patient";
    for (const [prop, stored] of Object.entries(columnNames)) {
      if (FRAME_MEMBERS.has(prop) || prop in this) {
        throw new EnclaveError(`column ${JSON.stringify(prop)} has the name of a frame method; rename the column`);
      }
      Object.defineProperty(this, prop, {
        enumerable: true,
        get: () => wrap(build(`.${prop}`, () => Q.column(node, stored))),
      });
    }
    void dim;
    // A misspelt column is an error that names it, not `undefined`.
    return new Proxy(this, {
      get(target, prop, receiver) {
        if (typeof prop === "string" && !(prop in target) && !IGNORED_PROPS.has(prop)) {
          const cols = Object.keys(columnNames);
          throw new EnclaveError(`${frameName(node)} has no column or method ${JSON.stringify(prop)}; its columns are ${cols.join(", ")}`);
        }
        return Reflect.get(target, prop, receiver);
      },
    });
  }

  /** A frame of the same class over another node (filters keep a table's helpers). */
  protected derive(node: QFrame): this {
    const Ctor = this.constructor as new (node: QFrame, cols: ColumnNames) => this;
    return new Ctor(node, this.columnNames);
  }

  /** For a frame: true when the patient has a row. */
  existsForPatient(): BoolSeries<"patient"> {
    return wrap(build("existsForPatient()", () => Q.aggregate("Exists", this[FRAME]))) as BoolSeries<"patient">;
  }
  /** The patient's number of rows. */
  countForPatient(): IntSeries<"patient"> {
    return wrap(build("countForPatient()", () => Q.aggregate("Count", this[FRAME]))) as IntSeries<"patient">;
  }
}

export class PatientFrameBase extends BaseFrame {}

export class EventFrameBase extends BaseFrame {
  /** Keeps the rows where the condition is true (NULL is dropped). */
  where(condition: BoolSeries<Dim> | boolean): this {
    const c = toNode("where()", condition, "bool");
    return this.derive(build("where()", () => Q.filter(this[FRAME] as ManyRowsFrame, c)));
  }
  /** Drops the rows where the condition is true (NULL is kept). */
  exceptWhere(condition: BoolSeries<Dim> | boolean): this {
    const c = toNode("exceptWhere()", condition, "bool");
    const keep = build("exceptWhere()", () => Q.fn("Or", Q.fn("Not", c), Q.fn("IsNull", c)));
    return this.derive(build("exceptWhere()", () => Q.filter(this[FRAME] as ManyRowsFrame, keep)));
  }
  /** Orders the rows by one or more of its columns (first most significant; NULL first). */
  sortBy(...keys: AnySeries[]): SortedEventFrame<TableSchema> {
    if (keys.length === 0) throw new EnclaveError("sortBy(): give at least one column to sort by");
    const nodes = keys.map((k, i) => {
      if (!isSeries(k)) throw new EnclaveError(`sortBy(): argument ${i + 1} is not a series (sort by a column of the frame)`);
      return nodeOf(k);
    });
    const node = build("sortBy()", () => Q.sort(this[FRAME] as ManyRowsFrame, nodes));
    return new SortedEventFrameBase(node, this.columnNames) as unknown as SortedEventFrame<TableSchema>;
  }
}

// Called through `any` on an unsorted frame: say what to do.
for (const name of ["firstForPatient", "lastForPatient"]) {
  Object.defineProperty(EventFrameBase.prototype, name, {
    value() {
      throw new EnclaveError(`${name}(): the frame is not sorted; call .sortBy(...) first, for example .sortBy(frame.date).${name}()`);
    },
    writable: true,
    configurable: true,
  });
}

export class SortedEventFrameBase extends EventFrameBase {
  /** The first row of each patient in the sort order. */
  firstForPatient(): PatientFrame<TableSchema> {
    return new PatientFrameBase(build("firstForPatient()", () => Q.pick(this[FRAME] as ManyRowsFrame, "first")), this.columnNames) as PatientFrame<TableSchema>;
  }
  /** The last row of each patient in the sort order. */
  lastForPatient(): PatientFrame<TableSchema> {
    return new PatientFrameBase(build("lastForPatient()", () => Q.pick(this[FRAME] as ManyRowsFrame, "last")), this.columnNames) as PatientFrame<TableSchema>;
  }
}

export type PatientFrame<S extends TableSchema> = PatientFrameBase & Columns<S, "patient">;
type FrameMethods = "where" | "exceptWhere" | "sortBy" | "firstForPatient" | "lastForPatient";
export type EventFrame<S extends TableSchema> = Omit<EventFrameBase, FrameMethods> & Columns<S, "event"> & {
  where(condition: BoolSeries<Dim> | boolean): EventFrame<S>;
  exceptWhere(condition: BoolSeries<Dim> | boolean): EventFrame<S>;
  sortBy(...keys: AnySeries[]): SortedEventFrame<S>;
};
export type SortedEventFrame<S extends TableSchema> = Omit<SortedEventFrameBase, FrameMethods> & Columns<S, "event"> & {
  where(condition: BoolSeries<Dim> | boolean): SortedEventFrame<S>;
  exceptWhere(condition: BoolSeries<Dim> | boolean): SortedEventFrame<S>;
  sortBy(...keys: AnySeries[]): SortedEventFrame<S>;
  firstForPatient(): PatientFrame<S>;
  lastForPatient(): PatientFrame<S>;
};

function checkTable(fn: string, name: unknown, schema: unknown): asserts schema is TableSchema {
  if (typeof name !== "string") throw new EnclaveError(`${fn}(): the first argument is the table's name, a string`);
  if (typeof schema !== "object" || schema === null || Array.isArray(schema) || Object.keys(schema).length === 0) {
    throw new EnclaveError(`${fn}(${JSON.stringify(name)}): the second argument is the columns, as { column: "type", ... }`);
  }
  for (const [col, t] of Object.entries(schema)) {
    if (!isScalarType(t)) {
      throw new EnclaveError(
        `${fn}(${JSON.stringify(name)}): column ${col} has type ${JSON.stringify(t)}; types are bool, int, float, str, date, snomedct, ctv3, icd10, opcs4, dmd, bnf, icd10multi, opcs4multi`,
      );
    }
  }
}

const identity = (schema: TableSchema): ColumnNames => Object.fromEntries(Object.keys(schema).map((k) => [k, k]));

/** A table with one row per patient; its stored name and columns are the ones given. */
export function patientTable<const S extends TableSchema>(name: string, schema: S): PatientFrame<S> {
  checkTable("patientTable", name, schema);
  return new PatientFrameBase(build(`patientTable(${JSON.stringify(name)})`, () => Q.selectPatientTable(name, schema)), identity(schema)) as PatientFrame<S>;
}

/** A table with any number of rows per patient; its stored name and columns are the ones given. */
export function eventTable<const S extends TableSchema>(name: string, schema: S): EventFrame<S> {
  checkTable("eventTable", name, schema);
  return new EventFrameBase(build(`eventTable(${JSON.stringify(name)})`, () => Q.selectTable(name, schema)), identity(schema)) as EventFrame<S>;
}

/**
 * A patient table whose rows are written in the definition:
 * `tableFromRows({ region: "str" }, [[1, "North"], [2, "South"]])`.
 */
export function tableFromRows<const S extends TableSchema>(schema: S, rows: readonly (readonly Scalar[])[]): PatientFrame<S> {
  checkTable("tableFromRows", "inline", schema);
  if (!Array.isArray(rows)) throw new EnclaveError("tableFromRows(): rows must be an array of [patient_id, ...values]");
  return new PatientFrameBase(build("tableFromRows()", () => Q.inlinePatientTable(schema, rows)), identity(schema)) as PatientFrame<S>;
}

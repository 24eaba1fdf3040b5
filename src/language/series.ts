// Series: what researchers compute with. Each value type has its own class, and
// each class is generic in its dimension D ("patient": one value per patient;
// "event": many rows per patient), so TypeScript refuses what it can see is
// wrong (a date compared with an int, `sumForPatient()` on a str series, an
// event series as a dataset column). What it cannot see (a non-integer literal
// for an int series, series from two different event frames) is refused when
// the definition is loaded, with an error that names the method and the types.

import {
  type CodeType,
  type MultiCodeType,
  type Scalar,
  type ScalarType,
  type Series as QSeries,
  CODE_SYSTEM_NAMES,
  Q,
  SEMANTICS,
  addMonths,
  checkScalar,
  describe,
  isCodeType,
  isIsoDate,
  isMultiCodeType,
  isNumericType,
  isPatientLevel,
  isValidCode,
  setOf,
} from "../querymodel/index.js";
import { codeLocation, locate } from "./codelists.js";
import { EnclaveError, build } from "./errors.js";

export type Dim = "patient" | "event";
/** The dimension of a combination: event if either side is. */
export type Join<A extends Dim, B extends Dim> = A extends "event" ? "event" : B extends "event" ? "event" : "patient";

/** An ISO date written as a string: `"2020-01-01"`. */
export type IsoDate = `${number}-${number}-${number}`;

export { EnclaveError };

// ==========================================================================
// NODES AND LITERALS
// ==========================================================================

const NODE = Symbol.for("enclave.node");
// A number given with value(n) has no type of its own until it meets a series.
const FLEXIBLE = Symbol.for("enclave.flexibleNumber");

export function nodeOf(s: AnySeries): QSeries {
  return (s as unknown as { [NODE]: QSeries })[NODE];
}
export function isSeries(x: unknown): x is AnySeries {
  return typeof x === "object" && x !== null && NODE in x;
}

export function typeName(t: ScalarType | string): string {
  if (isCodeType(t as ScalarType) || isMultiCodeType(t as ScalarType)) return `${t} (${CODE_SYSTEM_NAMES[t as CodeType]}) code`;
  return t;
}
function describeArg(x: unknown): string {
  if (isSeries(x)) return `${isPatientLevel(nodeOf(x)) ? "a patient-level" : "an event-level"} ${typeName(nodeOf(x).type)} series`;
  if (x instanceof Duration) return `a duration (${x.unit})`;
  return describe(x);
}

/**
 * Turns an argument into a node of type `want`: a series of that type, or a
 * literal that fits it. `method` names the call in errors.
 */
export function toNode(method: string, x: unknown, want: ScalarType): QSeries {
  if (isSeries(x)) {
    const flexible = (x as unknown as { [FLEXIBLE]?: number })[FLEXIBLE];
    if (flexible !== undefined && isNumericType(want)) return literal(method, flexible, want);
    const node = nodeOf(x);
    if (node.type !== want) throw new EnclaveError(`${method}: expected ${article(want)} series or value, got ${describeArg(x)}`);
    return node;
  }
  return literal(method, x, want);
}

function article(t: string): string {
  const n = typeName(t);
  return /^[aeiou]/i.test(n) ? `an ${n}` : `a ${n}`;
}

function literal(method: string, x: unknown, want: ScalarType): QSeries {
  if (x === undefined) throw new EnclaveError(`${method}: a value is missing (expected ${article(want)})`);
  if (x === null) throw new EnclaveError(`${method}: null is not allowed here (expected ${article(want)}); use isNull() to test for NULL`);
  if (typeof x === "number" && want === "int" && !Number.isInteger(x)) {
    throw new EnclaveError(`${method}: ${x} is not a whole number, so it cannot be used with an int series (use .asFloat() on the series first)`);
  }
  if (typeof x === "object") throw new EnclaveError(`${method}: expected ${article(want)}, got ${describeArg(x)}`);
  const why = checkScalar(want, x as Scalar);
  if (why) throw new EnclaveError(`${method}: ${why}`);
  return Q.value(want, x as Scalar);
}

/** The type a literal has when it meets no series. */
function literalType(x: Scalar): ScalarType {
  if (typeof x === "boolean") return "bool";
  if (typeof x === "number") return Number.isInteger(x) ? "int" : "float";
  if (typeof x === "string") return isIsoDate(x) ? "date" : "str";
  throw new EnclaveError("a type cannot be inferred from null alone");
}

/** Wraps a query-model series in the language class for its type. */
export function wrap(node: QSeries): AnySeries {
  const t = node.type;
  let s: AnySeries;
  if (t === "bool") s = new BoolSeries(node);
  else if (t === "int") s = new IntSeries(node);
  else if (t === "float") s = new FloatSeries(node);
  else if (t === "str") s = new StrSeries(node);
  else if (t === "date") s = new DateSeries(node);
  else if (isCodeType(t)) s = new CodeSeries(node);
  else if (isMultiCodeType(t)) s = new MultiCodeSeries(node);
  else throw new EnclaveError(`a ${t} cannot be used as a series`);
  return s;
}
const fn = <S>(method: string, name: Parameters<typeof Q.fn>[0], ...args: QSeries[]): S => wrap(build(method, () => Q.fn(name, ...args))) as S;
const agg = <S>(method: string, name: Parameters<typeof Q.aggregate>[0], src: QSeries, gap?: number): S =>
  wrap(build(method, () => Q.aggregate(name, src, gap))) as S;

// ==========================================================================
// THE SERIES CLASSES
// ==========================================================================

export type AnySeries = BoolSeries<Dim> | IntSeries<Dim> | FloatSeries<Dim> | StrSeries<Dim> | DateSeries<Dim> | CodeSeries<CodeType, Dim> | MultiCodeSeries<MultiCodeType, Dim>;
export type PatientSeries = BoolSeries<"patient"> | IntSeries<"patient"> | FloatSeries<"patient"> | StrSeries<"patient"> | DateSeries<"patient"> | CodeSeries<CodeType, "patient"> | MultiCodeSeries<MultiCodeType, "patient">;

/** What `mapValues` and `when().then()` may produce: literals of one type, or null. */
type MapValue = string | number | boolean | null;
type SeriesForLiteral<V, D extends Dim> = [V] extends [boolean | null]
  ? BoolSeries<D>
  : [V] extends [number | null]
    ? NumberSeries<D>
    : [V] extends [IsoDate | null]
      ? DateSeries<D>
      : [V] extends [string | null]
        ? StrSeries<D>
        : never;

abstract class BaseSeries<T extends ScalarType, D extends Dim> {
  declare readonly __dim: D;
  declare readonly __type: T;
  /** @internal */ readonly [NODE]: QSeries;

  constructor(node: QSeries) {
    this[NODE] = node;
  }

  /** The value type of this series (int, date, snomedct, ...). */
  get valueType(): T {
    return this[NODE].type as T;
  }

  protected m(method: string): string {
    return `${this.constructor.name}.${method}()`;
  }

  isNull(): BoolSeries<D> {
    return fn(this.m("isNull"), "IsNull", this[NODE]);
  }
  isNotNull(): BoolSeries<D> {
    return fn(this.m("isNotNull"), "Not", fn<BoolSeries<D>>(this.m("isNotNull"), "IsNull", this[NODE])[NODE]);
  }

  /** True when the value is one of `values` (an array, a codelist, or an event series of the same type). */
  isIn<D2 extends Dim = "patient">(values: readonly Scalar[] | Readonly<Record<string, string>> | BaseSeries<T, D2>): BoolSeries<D> {
    return fn(this.m("isIn"), "In", this[NODE], setNode(this.m("isIn"), this[NODE].type as ScalarType, values));
  }
  isNotIn<D2 extends Dim = "patient">(values: readonly Scalar[] | Readonly<Record<string, string>> | BaseSeries<T, D2>): BoolSeries<D> {
    return this.isIn(values).not();
  }

  /**
   * Maps each value to another: keys of an object match this series' values by
   * their string form; a Map's keys match exactly. Unmatched values give `default` (NULL if none).
   */
  mapValues<V extends MapValue>(mapping: Readonly<Record<string, V>> | ReadonlyMap<Scalar, V>, options: { default?: V } = {}): SeriesForLiteral<V, D> {
    const method = this.m("mapValues");
    const own = this[NODE].type as ScalarType;
    const entries: [Scalar, V][] =
      mapping instanceof Map ? [...mapping.entries()] : Object.entries(mapping as Record<string, V>).map(([k, v]) => [keyFromString(method, k, own), v]);
    if (entries.length === 0 && options.default === undefined) throw new EnclaveError(`${method}: the mapping is empty`);
    const branches = entries.map(([k, v]) => ({ when: fn<BoolSeries<D>>(method, "EQ", this[NODE], toNode(method, k, own))[NODE], then: v as unknown }));
    return buildCase(method, branches, options.default ?? null) as SeriesForLiteral<V, D>;
  }

  /** The patient's number of non-NULL values. */
  countForPatient(this: BaseSeries<T, "event">): IntSeries<"patient"> {
    return agg(this.m("countForPatient"), "Count", this[NODE]);
  }
  /** True when the patient has at least one non-NULL value. */
  existsForPatient(this: BaseSeries<T, "event">): BoolSeries<"patient"> {
    return agg(this.m("existsForPatient"), "Exists", this[NODE]);
  }
  countDistinctForPatient(this: BaseSeries<T, "event">): IntSeries<"patient"> {
    return agg(this.m("countDistinctForPatient"), "CountDistinct", this[NODE]);
  }
}

function keyFromString(method: string, k: string, t: ScalarType): Scalar {
  if (t === "int" || t === "float") {
    const n = Number(k);
    if (k.trim() === "" || !Number.isFinite(n)) throw new EnclaveError(`${method}: the key ${JSON.stringify(k)} is not a number, but the series is ${t}`);
    return n;
  }
  if (t === "bool") {
    if (k === "true" || k === "T") return true;
    if (k === "false" || k === "F") return false;
    throw new EnclaveError(`${method}: the key ${JSON.stringify(k)} is not a boolean (true/false), but the series is bool`);
  }
  return k;
}

/** The right side of `In`: literal values as a set Value, or an event series combined per patient. */
function setNode(method: string, t: ScalarType, values: unknown): QSeries {
  if (isSeries(values)) {
    const node = nodeOf(values);
    if (node.type !== t) throw new EnclaveError(`${method}: expected values of type ${typeName(t)}, got ${describeArg(values)}`);
    if (isPatientLevel(node)) throw new EnclaveError(`${method}: a patient-level series has one value; compare with .eq() instead, or pass an event series`);
    return build(method, () => Q.aggregate("CombineAsSet", node));
  }
  let list: unknown[];
  if (Array.isArray(values)) list = values;
  else if (values instanceof Set) list = [...values];
  else if (typeof values === "object" && values !== null) list = Object.keys(values);
  else throw new EnclaveError(`${method}: expected an array of values, a codelist or an event series, got ${describeArg(values)}`);
  list.forEach((v) => {
    if (v === null) return;
    if (typeof v === "number" && t === "int" && !Number.isInteger(v)) throw new EnclaveError(`${method}: ${v} is not a whole number, but the series is int`);
    const why = checkScalar(t, v as Scalar);
    if (why) {
      const where = typeof v === "string" ? codeLocation(values as object, v) : undefined;
      throw new EnclaveError(`${where ? `${where}: ` : ""}${method}: ${why}`);
    }
  });
  return build(method, () => Q.value(setOf(t), list as Scalar[]));
}

// ---- bool ------------------------------------------------------------------

type BoolLike<D extends Dim> = BoolSeries<D> | boolean;

export class BoolSeries<D extends Dim = Dim> extends BaseSeries<"bool", D> {
  private declare readonly __boolBrand: true;
  eq<D2 extends Dim = "patient">(other: BoolLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("eq"), "EQ", this[NODE], toNode(this.m("eq"), other, "bool"));
  }
  ne<D2 extends Dim = "patient">(other: BoolLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("ne"), "NE", this[NODE], toNode(this.m("ne"), other, "bool"));
  }
  and<D2 extends Dim = "patient">(other: BoolLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("and"), "And", this[NODE], toNode(this.m("and"), other, "bool"));
  }
  or<D2 extends Dim = "patient">(other: BoolLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("or"), "Or", this[NODE], toNode(this.m("or"), other, "bool"));
  }
  not(): BoolSeries<D> {
    return fn(this.m("not"), "Not", this[NODE]);
  }
  whenNullThen<D2 extends Dim = "patient">(other: BoolLike<D2>): BoolSeries<Join<D, D2>> {
    return whenNullThen(this.m("whenNullThen"), this, other, "bool");
  }
  asInt(): IntSeries<D> {
    return fn(this.m("asInt"), "CastToInt", this[NODE]);
  }
}

// ---- int and float ---------------------------------------------------------

type IntLike<D extends Dim> = IntSeries<D> | number;
type FloatLike<D extends Dim> = FloatSeries<D> | number;

abstract class NumericSeries<T extends "int" | "float", D extends Dim> extends BaseSeries<T, D> {
  protected own(): T {
    return this[NODE].type as T;
  }
  /** This series' node, and the other operand's, with a flexible literal adopting the other's type. */
  protected pair(method: string, other: unknown): [QSeries, QSeries] {
    const mine = (this as unknown as { [FLEXIBLE]?: number })[FLEXIBLE];
    if (mine !== undefined && isSeries(other) && isNumericType(nodeOf(other).type) && (other as unknown as { [FLEXIBLE]?: number })[FLEXIBLE] === undefined) {
      const t = nodeOf(other).type as ScalarType;
      return [literal(method, mine, t), nodeOf(other)];
    }
    return [this[NODE], toNode(method, other, this.own())];
  }
  protected binary<R>(method: string, name: Parameters<typeof Q.fn>[0], other: unknown): R {
    const m = this.m(method);
    return fn(m, name, ...this.pair(m, other));
  }
  neg(): this {
    return fn(this.m("neg"), "Negate", this[NODE]);
  }
  abs(): this {
    return fn(this.m("abs"), "Absolute", this[NODE]);
  }
  asInt(): IntSeries<D> {
    return fn(this.m("asInt"), "CastToInt", this[NODE]);
  }
  asFloat(): FloatSeries<D> {
    return fn(this.m("asFloat"), "CastToFloat", this[NODE]);
  }
}

export class IntSeries<D extends Dim = Dim> extends NumericSeries<"int", D> {
  private declare readonly __intBrand: true;
  eq<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("eq", "EQ", other);
  }
  ne<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("ne", "NE", other);
  }
  lt<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("lt", "LT", other);
  }
  le<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("le", "LE", other);
  }
  gt<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("gt", "GT", other);
  }
  ge<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("ge", "GE", other);
  }
  add<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>> {
    return this.binary("add", "Add", other);
  }
  sub<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>> {
    return this.binary("sub", "Subtract", other);
  }
  mul<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>> {
    return this.binary("mul", "Multiply", other);
  }
  /** Always a float; division by zero gives NULL. */
  div<D2 extends Dim = "patient">(other: IntLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("div", "TrueDivide", other);
  }
  /** Always an int, rounded down; division by zero gives NULL. */
  floorDiv<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>> {
    return this.binary("floorDiv", "FloorDivide", other);
  }
  /** Always a float. */
  pow<D2 extends Dim = "patient">(other: IntLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("pow", "Power", other);
  }
  whenNullThen<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>> {
    return whenNullThen(this.m("whenNullThen"), this, other, "int");
  }
  sumForPatient(this: IntSeries<"event">): IntSeries<"patient"> {
    return agg(this.m("sumForPatient"), "Sum", this[NODE]);
  }
  meanForPatient(this: IntSeries<"event">): FloatSeries<"patient"> {
    return agg(this.m("meanForPatient"), "Mean", this[NODE]);
  }
  minimumForPatient(this: IntSeries<"event">): IntSeries<"patient"> {
    return agg(this.m("minimumForPatient"), "Min", this[NODE]);
  }
  maximumForPatient(this: IntSeries<"event">): IntSeries<"patient"> {
    return agg(this.m("maximumForPatient"), "Max", this[NODE]);
  }
}

export class FloatSeries<D extends Dim = Dim> extends NumericSeries<"float", D> {
  private declare readonly __floatBrand: true;
  eq<D2 extends Dim = "patient">(other: FloatLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("eq", "EQ", other);
  }
  ne<D2 extends Dim = "patient">(other: FloatLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("ne", "NE", other);
  }
  lt<D2 extends Dim = "patient">(other: FloatLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("lt", "LT", other);
  }
  le<D2 extends Dim = "patient">(other: FloatLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("le", "LE", other);
  }
  gt<D2 extends Dim = "patient">(other: FloatLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("gt", "GT", other);
  }
  ge<D2 extends Dim = "patient">(other: FloatLike<D2>): BoolSeries<Join<D, D2>> {
    return this.binary("ge", "GE", other);
  }
  add<D2 extends Dim = "patient">(other: FloatLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("add", "Add", other);
  }
  sub<D2 extends Dim = "patient">(other: FloatLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("sub", "Subtract", other);
  }
  mul<D2 extends Dim = "patient">(other: FloatLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("mul", "Multiply", other);
  }
  div<D2 extends Dim = "patient">(other: FloatLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("div", "TrueDivide", other);
  }
  floorDiv<D2 extends Dim = "patient">(other: FloatLike<D2>): IntSeries<Join<D, D2>> {
    return this.binary("floorDiv", "FloorDivide", other);
  }
  pow<D2 extends Dim = "patient">(other: FloatLike<D2>): FloatSeries<Join<D, D2>> {
    return this.binary("pow", "Power", other);
  }
  whenNullThen<D2 extends Dim = "patient">(other: FloatLike<D2>): FloatSeries<Join<D, D2>> {
    return whenNullThen(this.m("whenNullThen"), this, other, "float");
  }
  sumForPatient(this: FloatSeries<"event">): FloatSeries<"patient"> {
    return agg(this.m("sumForPatient"), "Sum", this[NODE]);
  }
  meanForPatient(this: FloatSeries<"event">): FloatSeries<"patient"> {
    return agg(this.m("meanForPatient"), "Mean", this[NODE]);
  }
  minimumForPatient(this: FloatSeries<"event">): FloatSeries<"patient"> {
    return agg(this.m("minimumForPatient"), "Min", this[NODE]);
  }
  maximumForPatient(this: FloatSeries<"event">): FloatSeries<"patient"> {
    return agg(this.m("maximumForPatient"), "Max", this[NODE]);
  }
}

/**
 * `value(n)`: a number that becomes an int or a float when it meets a series
 * (an int if integral and it meets none). Its methods accept either.
 */
export interface NumberSeries<D extends Dim = "patient"> extends IntSeries<D> {
  eq<D2 extends Dim = "patient">(other: FloatSeries<D2>): BoolSeries<Join<D, D2>>;
  eq<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>>;
  ne<D2 extends Dim = "patient">(other: FloatSeries<D2>): BoolSeries<Join<D, D2>>;
  ne<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>>;
  lt<D2 extends Dim = "patient">(other: FloatSeries<D2>): BoolSeries<Join<D, D2>>;
  lt<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>>;
  le<D2 extends Dim = "patient">(other: FloatSeries<D2>): BoolSeries<Join<D, D2>>;
  le<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>>;
  gt<D2 extends Dim = "patient">(other: FloatSeries<D2>): BoolSeries<Join<D, D2>>;
  gt<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>>;
  ge<D2 extends Dim = "patient">(other: FloatSeries<D2>): BoolSeries<Join<D, D2>>;
  ge<D2 extends Dim = "patient">(other: IntLike<D2>): BoolSeries<Join<D, D2>>;
  add<D2 extends Dim = "patient">(other: FloatSeries<D2>): FloatSeries<Join<D, D2>>;
  add<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>>;
  sub<D2 extends Dim = "patient">(other: FloatSeries<D2>): FloatSeries<Join<D, D2>>;
  sub<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>>;
  mul<D2 extends Dim = "patient">(other: FloatSeries<D2>): FloatSeries<Join<D, D2>>;
  mul<D2 extends Dim = "patient">(other: IntLike<D2>): IntSeries<Join<D, D2>>;
  floorDiv<D2 extends Dim = "patient">(other: FloatSeries<D2> | IntLike<D2>): IntSeries<Join<D, D2>>;
  div<D2 extends Dim = "patient">(other: FloatSeries<D2> | IntLike<D2>): FloatSeries<Join<D, D2>>;
  pow<D2 extends Dim = "patient">(other: FloatSeries<D2> | IntLike<D2>): FloatSeries<Join<D, D2>>;
}

export function numberLiteral(n: number): NumberSeries {
  const t = Number.isInteger(n) ? "int" : "float";
  if (!Number.isFinite(n)) throw new EnclaveError(`value(): ${n} is not a finite number`);
  const s = wrap(Q.value(t, n)) as unknown as Record<symbol, unknown>;
  s[FLEXIBLE] = n;
  return s as unknown as NumberSeries;
}

// ---- str -------------------------------------------------------------------

type StrLike<D extends Dim> = StrSeries<D> | string;

export class StrSeries<D extends Dim = Dim> extends BaseSeries<"str", D> {
  private declare readonly __strBrand: true;
  eq<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("eq"), "EQ", this[NODE], toNode(this.m("eq"), other, "str"));
  }
  ne<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("ne"), "NE", this[NODE], toNode(this.m("ne"), other, "str"));
  }
  lt<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("lt"), "LT", this[NODE], toNode(this.m("lt"), other, "str"));
  }
  le<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("le"), "LE", this[NODE], toNode(this.m("le"), other, "str"));
  }
  gt<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("gt"), "GT", this[NODE], toNode(this.m("gt"), other, "str"));
  }
  ge<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("ge"), "GE", this[NODE], toNode(this.m("ge"), other, "str"));
  }
  /** Substring test; `%` and `_` are plain characters. */
  contains<D2 extends Dim = "patient">(other: StrLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m("contains"), "StringContains", this[NODE], toNode(this.m("contains"), other, "str"));
  }
  whenNullThen<D2 extends Dim = "patient">(other: StrLike<D2>): StrSeries<Join<D, D2>> {
    return whenNullThen(this.m("whenNullThen"), this, other, "str");
  }
  minimumForPatient(this: StrSeries<"event">): StrSeries<"patient"> {
    return agg(this.m("minimumForPatient"), "Min", this[NODE]);
  }
  maximumForPatient(this: StrSeries<"event">): StrSeries<"patient"> {
    return agg(this.m("maximumForPatient"), "Max", this[NODE]);
  }
}

// ---- codes -----------------------------------------------------------------

export class CodeSeries<C extends CodeType = CodeType, D extends Dim = Dim> extends BaseSeries<C, D> {
  private declare readonly __codeBrand: C;
  eq<D2 extends Dim = "patient">(other: CodeSeries<C, D2> | string): BoolSeries<Join<D, D2>> {
    return fn(this.m("eq"), "EQ", this[NODE], toNode(this.m("eq"), other, this.valueType));
  }
  ne<D2 extends Dim = "patient">(other: CodeSeries<C, D2> | string): BoolSeries<Join<D, D2>> {
    return fn(this.m("ne"), "NE", this[NODE], toNode(this.m("ne"), other, this.valueType));
  }
  whenNullThen<D2 extends Dim = "patient">(other: CodeSeries<C, D2> | string): CodeSeries<C, Join<D, D2>> {
    return whenNullThen(this.m("whenNullThen"), this, other, this.valueType);
  }
  /** Maps each code to its category (codes not in the codelist give NULL). */
  toCategory(categories: Readonly<Record<string, string>>): StrSeries<D> {
    const method = this.m("toCategory");
    if (typeof categories !== "object" || categories === null || Array.isArray(categories)) {
      throw new EnclaveError(`${method}: expected a categorised codelist (codelistFromCsv with categoryColumn) or an object of code → category, got ${describeArg(categories)}`);
    }
    const byCategory = new Map<string, string[]>();
    for (const [code, cat] of Object.entries(categories)) {
      if (typeof cat !== "string") throw new EnclaveError(`${method}: the category of ${JSON.stringify(code)} must be a string, got ${describe(cat)}`);
      const list = byCategory.get(cat) ?? [];
      list.push(code);
      byCategory.set(cat, list);
    }
    if (byCategory.size === 0) throw new EnclaveError(`${method}: the codelist is empty`);
    // One branch per category (not per code), so the query stays small for long codelists.
    const branches = [...byCategory].map(([cat, codes]) => {
      const sub = Object.fromEntries(codes.map((c) => [c, cat]));
      copyLocations(categories, sub);
      return { when: nodeOf(this.isIn(sub)), then: cat as unknown };
    });
    return buildCase(method, branches, null) as StrSeries<D>;
  }
  minimumForPatient(this: CodeSeries<C, "event">): CodeSeries<C, "patient"> {
    return agg(this.m("minimumForPatient"), "Min", this[NODE]);
  }
  maximumForPatient(this: CodeSeries<C, "event">): CodeSeries<C, "patient"> {
    return agg(this.m("maximumForPatient"), "Max", this[NODE]);
  }
}

function copyLocations(from: object, to: object): void {
  for (const code of Object.keys(to)) {
    const loc = codeLocation(from, code);
    if (loc) locate(to, code, loc);
  }
}

/** A string of several codes (for example all diagnoses of a hospital spell). */
export class MultiCodeSeries<C extends MultiCodeType = MultiCodeType, D extends Dim = Dim> extends BaseSeries<C, D> {
  private declare readonly __multiCodeBrand: C;
  /** True when the string contains the code (or code prefix). */
  contains(code: string): BoolSeries<D> {
    const method = this.m("contains");
    return fn(method, "StringContains", this[NODE], multiCodeArg(method, this.valueType, code));
  }
  /** True when the string contains any of the codes. */
  containsAnyOf(codes: readonly string[] | Readonly<Record<string, string>>): BoolSeries<D> {
    const method = this.m("containsAnyOf");
    const list = Array.isArray(codes) ? codes : typeof codes === "object" && codes !== null ? Object.keys(codes) : null;
    if (!list || list.length === 0) throw new EnclaveError(`${method}: expected a non-empty list of codes, got ${describeArg(codes)}`);
    // A balanced tree of ORs keeps the nesting depth logarithmic in the codelist's length.
    const leaves = list.map((c) => fn<BoolSeries<D>>(method, "StringContains", this[NODE], multiCodeArg(method, this.valueType, c, codes))[NODE]);
    const combine = (xs: QSeries[]): QSeries => (xs.length === 1 ? xs[0]! : build(method, () => Q.fn("Or", combine(xs.slice(0, xs.length >> 1)), combine(xs.slice(xs.length >> 1)))));
    return wrap(combine(leaves)) as BoolSeries<D>;
  }
  eq<D2 extends Dim = "patient">(other: MultiCodeSeries<C, D2> | string): BoolSeries<Join<D, D2>> {
    return fn(this.m("eq"), "EQ", this[NODE], toNode(this.m("eq"), other, this.valueType));
  }
  ne<D2 extends Dim = "patient">(other: MultiCodeSeries<C, D2> | string): BoolSeries<Join<D, D2>> {
    return fn(this.m("ne"), "NE", this[NODE], toNode(this.m("ne"), other, this.valueType));
  }
}

function multiCodeArg(method: string, t: MultiCodeType, code: unknown, source?: object): QSeries {
  if (typeof code !== "string") throw new EnclaveError(`${method}: expected a code as a string, got ${describeArg(code)}`);
  if (!isValidCode(t, code)) {
    const where = source ? codeLocation(source, code) : undefined;
    throw new EnclaveError(`${where ? `${where}: ` : ""}${method}: ${JSON.stringify(code)} is not a valid ${CODE_SYSTEM_NAMES[t]} code or code prefix`);
  }
  // The model compares a multi-code string with a plain string.
  return Q.value("str", code);
}

// ---- dates -----------------------------------------------------------------

type DateLike<D extends Dim> = DateSeries<D> | IsoDate | string;
export type DurationUnit = "days" | "weeks" | "months" | "years";

/** A length of time: `days(n)`, `weeks(n)`, `months(n)`, `years(n)`; n a number or an int series. */
export class Duration<D extends Dim = "patient"> {
  declare readonly __dim: D;
  constructor(
    readonly unit: DurationUnit,
    readonly amount: number | IntSeries<D>,
  ) {
    if (typeof amount === "number" && !Number.isInteger(amount)) throw new EnclaveError(`${unit}(): ${amount} is not a whole number`);
    if (typeof amount !== "number" && !(amount instanceof IntSeries)) throw new EnclaveError(`${unit}(): expected a whole number or an int series, got ${describeArg(amount)}`);
  }
  /** The amount as an int node, in the unit the model adds (days for weeks). */
  amountNode(method: string): QSeries {
    const n = toNode(method, this.amount, "int");
    return this.unit === "weeks" ? build(method, () => Q.fn("Multiply", n, Q.value("int", 7))) : n;
  }
  /** `days(100).add(d)` is `d.add(days(100))`; a duration plus a duration of the same unit is a duration. */
  add<D2 extends Dim = "patient">(other: DateLike<D2>): DateSeries<Join<D, D2>>;
  add<D2 extends Dim = "patient">(other: Duration<D2>): Duration<Join<D, D2>>;
  add(other: unknown): unknown {
    if (other instanceof Duration) return combineDurations(`${this.unit}().add()`, this, other, 1);
    return dateArg(`${this.unit}().add()`, other).add(this);
  }
  sub<D2 extends Dim = "patient">(other: Duration<D2>): Duration<Join<D, D2>> {
    return combineDurations(`${this.unit}().sub()`, this, other, -1) as Duration<Join<D, D2>>;
  }
  neg(): Duration<D> {
    return new Duration(this.unit, typeof this.amount === "number" ? -this.amount : this.amount.neg());
  }
  /** Intervals of this length starting on `date`: `months(12).startingOn("2023-04-01")`. */
  startingOn(date: string): [string, string][] {
    return intervals(this, date, "start");
  }
  /** Intervals of this length, the last ending on `date`. */
  endingOn(date: string): [string, string][] {
    return intervals(this, date, "end");
  }
}

function combineDurations(method: string, a: Duration<Dim>, b: Duration<Dim>, sign: number): Duration<Dim> {
  if (a.unit !== b.unit) throw new EnclaveError(`${method}: cannot combine ${a.unit} with ${b.unit}`);
  if (typeof a.amount === "number" && typeof b.amount === "number") return new Duration(a.unit, a.amount + sign * b.amount);
  const x = toNode(method, a.amount, "int"), y = toNode(method, b.amount, "int");
  return new Duration(a.unit, wrap(build(method, () => Q.fn(sign > 0 ? "Add" : "Subtract", x, y))) as IntSeries);
}

function intervals(d: Duration<Dim>, date: string, anchor: "start" | "end"): [string, string][] {
  const method = anchor === "start" ? "startingOn()" : "endingOn()";
  if (typeof d.amount !== "number" || d.amount < 1) throw new EnclaveError(`${d.unit}(n).${method}: n must be a whole number of 1 or more`);
  if (!isIsoDate(date)) throw new EnclaveError(`${d.unit}(n).${method}: ${describe(date)} is not a date as YYYY-MM-DD`);
  // Every boundary is computed from the anchor, so month roll-forward never accumulates.
  const step = (k: number): string => {
    const base = anchor === "start" ? date : addDaysIso(date, 1);
    const shifted = d.unit === "days" ? addDaysIso(base, k) : d.unit === "weeks" ? addDaysIso(base, 7 * k) : addMonths(base, (d.unit === "years" ? 12 : 1) * k);
    if (shifted === null) throw new EnclaveError(`${d.unit}(n).${method}: the intervals run outside the years 1 to 9999`);
    return shifted as string;
  };
  const first = anchor === "start" ? 0 : -d.amount;
  const out: [string, string][] = [];
  for (let i = first; i < first + d.amount; i++) out.push([step(i), addDaysIso(step(i + 1), -1)]);
  return out;
}

function addDaysIso(iso: string, n: number): string {
  return SEMANTICS.DateAddDays(iso, n) as string;
}

function dateArg(method: string, x: unknown): DateSeries<Dim> {
  return wrap(toNode(method, x, "date")) as DateSeries<Dim>;
}

/** `d1.sub(d2)`: a difference between dates, read as whole days, weeks, months or years. */
export class DateDifference<D extends Dim = Dim> {
  constructor(
    private readonly lhs: QSeries,
    private readonly rhs: QSeries,
  ) {}
  get days(): IntSeries<D> {
    return fn("DateDifference.days", "DateDifferenceInDays", this.lhs, this.rhs);
  }
  /** Whole days divided by 7, rounded down. */
  get weeks(): IntSeries<D> {
    return this.days.floorDiv(7) as IntSeries<D>;
  }
  get months(): IntSeries<D> {
    return fn("DateDifference.months", "DateDifferenceInMonths", this.lhs, this.rhs);
  }
  get years(): IntSeries<D> {
    return fn("DateDifference.years", "DateDifferenceInYears", this.lhs, this.rhs);
  }
}

/** The current interval of a measure: `[INTERVAL.startDate, INTERVAL.endDate]`. */
export interface IntervalLike {
  readonly startDate: DateSeries<"patient">;
  readonly endDate: DateSeries<"patient">;
}

export class DateSeries<D extends Dim = Dim> extends BaseSeries<"date", D> {
  private declare readonly __dateBrand: true;
  private cmp<D2 extends Dim>(method: string, name: "EQ" | "NE" | "LT" | "LE" | "GT" | "GE", other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return fn(this.m(method), name, this[NODE], toNode(this.m(method), other, "date"));
  }
  eq<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("eq", "EQ", other);
  }
  ne<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("ne", "NE", other);
  }
  lt<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("lt", "LT", other);
  }
  le<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("le", "LE", other);
  }
  gt<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("gt", "GT", other);
  }
  ge<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("ge", "GE", other);
  }
  isBefore<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("isBefore", "LT", other);
  }
  isOnOrBefore<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("isOnOrBefore", "LE", other);
  }
  isAfter<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("isAfter", "GT", other);
  }
  isOnOrAfter<D2 extends Dim = "patient">(other: DateLike<D2>): BoolSeries<Join<D, D2>> {
    return this.cmp("isOnOrAfter", "GE", other);
  }
  /** Strictly between the two dates. */
  isBetweenButNotOn<D2 extends Dim = "patient", D3 extends Dim = "patient">(start: DateLike<D2>, end: DateLike<D3>): BoolSeries<Join<D, Join<D2, D3>>> {
    return this.cmp("isBetweenButNotOn", "GT", start).and(this.cmp("isBetweenButNotOn", "LT", end)) as unknown as BoolSeries<Join<D, Join<D2, D3>>>;
  }
  /** Between the two dates, both included. */
  isOnOrBetween<D2 extends Dim = "patient", D3 extends Dim = "patient">(start: DateLike<D2>, end: DateLike<D3>): BoolSeries<Join<D, Join<D2, D3>>> {
    return this.cmp("isOnOrBetween", "GE", start).and(this.cmp("isOnOrBetween", "LE", end)) as unknown as BoolSeries<Join<D, Join<D2, D3>>>;
  }
  /** Within `[start, end]`, both included; also accepts INTERVAL. */
  isDuring<D2 extends Dim = "patient", D3 extends Dim = "patient">(interval: readonly [DateLike<D2>, DateLike<D3>] | IntervalLike): BoolSeries<Join<D, Join<D2, D3>>> {
    if (Array.isArray(interval)) {
      if (interval.length !== 2) throw new EnclaveError(`${this.m("isDuring")}: expected [start, end], got an array of ${interval.length}`);
      return this.isOnOrBetween(interval[0] as DateLike<D2>, interval[1] as DateLike<D3>);
    }
    const i = interval as IntervalLike;
    if (typeof i !== "object" || i === null || !isSeries(i.startDate)) throw new EnclaveError(`${this.m("isDuring")}: expected [start, end] or INTERVAL, got ${describeArg(interval)}`);
    return this.isOnOrBetween(i.startDate, i.endDate) as BoolSeries<Join<D, Join<D2, D3>>>;
  }
  get year(): IntSeries<D> {
    return fn(this.m("year"), "YearFromDate", this[NODE]);
  }
  get month(): IntSeries<D> {
    return fn(this.m("month"), "MonthFromDate", this[NODE]);
  }
  get day(): IntSeries<D> {
    return fn(this.m("day"), "DayFromDate", this[NODE]);
  }
  toFirstOfYear(): DateSeries<D> {
    return fn(this.m("toFirstOfYear"), "ToFirstOfYear", this[NODE]);
  }
  toFirstOfMonth(): DateSeries<D> {
    return fn(this.m("toFirstOfMonth"), "ToFirstOfMonth", this[NODE]);
  }
  /** Adds a duration: `d.add(days(30))`, `d.add(months(n))`. */
  add<D2 extends Dim = "patient">(duration: Duration<D2>): DateSeries<Join<D, D2>> {
    return shift(this.m("add"), this[NODE], duration, 1) as DateSeries<Join<D, D2>>;
  }
  /** Subtracts a duration (a date), or another date (a DateDifference: `.days`, `.months`, ...). */
  sub<D2 extends Dim = "patient">(other: Duration<D2>): DateSeries<Join<D, D2>>;
  sub<D2 extends Dim = "patient">(other: DateLike<D2>): DateDifference<Join<D, D2>>;
  sub(other: unknown): unknown {
    if (other instanceof Duration) return shift(this.m("sub"), this[NODE], other, -1);
    const rhs = toNode(this.m("sub"), other, "date");
    build(this.m("sub"), () => Q.fn("DateDifferenceInDays", this[NODE], rhs)); // checks domains now, not at `.days`
    return new DateDifference(this[NODE], rhs);
  }
  whenNullThen<D2 extends Dim = "patient">(other: DateLike<D2>): DateSeries<Join<D, D2>> {
    return whenNullThen(this.m("whenNullThen"), this, other, "date");
  }
  minimumForPatient(this: DateSeries<"event">): DateSeries<"patient"> {
    return agg(this.m("minimumForPatient"), "Min", this[NODE]);
  }
  maximumForPatient(this: DateSeries<"event">): DateSeries<"patient"> {
    return agg(this.m("maximumForPatient"), "Max", this[NODE]);
  }
  /** Episodes: dates no more than the given gap from the previous date belong to one episode. */
  countEpisodesForPatient(this: DateSeries<"event">, maximumGap: Duration<"patient">): IntSeries<"patient"> {
    const method = this.m("countEpisodesForPatient");
    if (!(maximumGap instanceof Duration) || (maximumGap.unit !== "days" && maximumGap.unit !== "weeks") || typeof maximumGap.amount !== "number") {
      throw new EnclaveError(`${method}: expected a fixed number of days or weeks, such as days(30), got ${describeArg(maximumGap)}`);
    }
    const gap = maximumGap.unit === "weeks" ? maximumGap.amount * 7 : maximumGap.amount;
    return agg(method, "CountEpisodes", this[NODE], gap);
  }
}

function shift(method: string, date: QSeries, d: unknown, sign: number): DateSeries<Dim> {
  if (!(d instanceof Duration)) throw new EnclaveError(`${method}: expected a duration such as days(n) or months(n), got ${describeArg(d)}`);
  let n = d.amountNode(method);
  if (sign < 0) n = build(method, () => Q.fn("Negate", n));
  const name = d.unit === "months" ? "DateAddMonths" : d.unit === "years" ? "DateAddYears" : "DateAddDays";
  return fn(method, name, date, n);
}

// Methods a class lacks, reached through `any`: a clear error instead of "is not a function".
const AVAILABLE_ON: Record<string, string> = {
  sumForPatient: "int or float", meanForPatient: "int or float", minimumForPatient: "int, float, str, date or code",
  maximumForPatient: "int, float, str, date or code", countEpisodesForPatient: "date", add: "int, float or date", sub: "int, float or date",
  mul: "int or float", div: "int or float", floorDiv: "int or float", pow: "int or float", neg: "int or float", abs: "int or float",
  asFloat: "int or float", lt: "int, float, str or date", le: "int, float, str or date", gt: "int, float, str or date", ge: "int, float, str or date",
  and: "bool", or: "bool", not: "bool", contains: "str or multi-code", containsAnyOf: "multi-code", toCategory: "code",
  isBefore: "date", isAfter: "date", isOnOrBefore: "date", isOnOrAfter: "date", isBetweenButNotOn: "date", isOnOrBetween: "date", isDuring: "date",
  toFirstOfMonth: "date", toFirstOfYear: "date",
};
for (const Cls of [BoolSeries, IntSeries, FloatSeries, StrSeries, DateSeries, CodeSeries, MultiCodeSeries]) {
  for (const [name, types] of Object.entries(AVAILABLE_ON)) {
    if (name in Cls.prototype) continue;
    Object.defineProperty(Cls.prototype, name, {
      value(this: BaseSeries<ScalarType, Dim>) {
        throw new EnclaveError(`${name}() needs a ${types} series, but this is a ${typeName(this.valueType)} series`);
      },
      writable: true,
      configurable: true,
    });
  }
}

// ==========================================================================
// WHEN / THEN, whenNullThen, maximumOf / minimumOf
// ==========================================================================

function whenNullThen<S>(method: string, self: AnySeries, other: unknown, t: ScalarType): S {
  const node = nodeOf(self);
  const isNull = build(method, () => Q.fn("IsNull", node));
  return buildCase(method, [{ when: isNull, then: other }], self, t) as S;
}

/**
 * Builds a Case from branch values that may be series, literals or null. The
 * type comes from the series among them, else from the literals.
 */
export function buildCase(method: string, branches: { when: QSeries; then: unknown }[], otherwise: unknown, forced?: ScalarType): AnySeries {
  const values = [...branches.map((b) => b.then), otherwise];
  let t: ScalarType | undefined = forced;
  if (!t) {
    const seriesTypes = values.filter(isSeries).filter((s) => (s as unknown as Record<symbol, unknown>)[FLEXIBLE] === undefined).map((s) => nodeOf(s).type as ScalarType);
    t = seriesTypes[0];
  }
  if (!t) {
    const lits = values.filter((v) => v !== null && v !== undefined).map((v) => (isSeries(v) ? ((v as unknown as Record<symbol, unknown>)[FLEXIBLE] as Scalar) : (v as Scalar)));
    if (lits.length === 0) throw new EnclaveError(`${method}: every value is null, so the type cannot be known; give at least one value`);
    const types = new Set(lits.map(literalType));
    if (types.size === 2 && types.has("int") && types.has("float")) t = "float";
    else if (types.size === 2 && types.has("date") && types.has("str")) t = "str";
    else if (types.size === 1) t = [...types][0]!;
    else throw new EnclaveError(`${method}: the values have different types (${[...types].join(", ")}); every branch must give the same type`);
  }
  const node = (v: unknown): QSeries | null => (v === null || v === undefined ? null : toNode(method, v, t));
  return wrap(build(method, () => Q.case(branches.map((b) => ({ when: b.when, then: node(b.then) })), node(otherwise))));
}

type Thenable = AnySeries | string | number | boolean | null;
/** The type of a `when` chain whose values so far are all null. */
interface Pending {
  readonly __pending: true;
}
type Resolve<S, V, D extends Dim> = S extends Pending ? SeriesFor<V, D> : S;
type SeriesFor<V, D extends Dim> = [V] extends [null] ? Pending : V extends BoolSeries<infer E>
  ? BoolSeries<Join<D, E>>
  : V extends NumberSeries<infer E>
    ? NumberSeries<Join<D, E>>
    : V extends IntSeries<infer E>
      ? IntSeries<Join<D, E>>
      : V extends FloatSeries<infer E>
        ? FloatSeries<Join<D, E>>
        : V extends StrSeries<infer E>
          ? StrSeries<Join<D, E>>
          : V extends DateSeries<infer E>
            ? DateSeries<Join<D, E>>
            : V extends CodeSeries<infer C, infer E>
              ? CodeSeries<C, Join<D, E>>
              : V extends MultiCodeSeries<infer C, infer E>
                ? MultiCodeSeries<C, Join<D, E>>
                : SeriesForLiteral<V, D>;
type DimOf<V> = V extends { readonly __dim: infer E extends Dim } ? E : "patient";
/** What a further branch may give once the first branch fixed the type. */
type SameAs<S> = S extends BoolSeries<Dim>
  ? BoolSeries<Dim> | boolean | null
  : S extends NumberSeries<Dim>
    ? IntSeries<Dim> | FloatSeries<Dim> | number | null
    : S extends IntSeries<Dim>
      ? IntSeries<Dim> | number | null
      : S extends FloatSeries<Dim>
        ? FloatSeries<Dim> | number | null
        : S extends DateSeries<Dim>
          ? DateSeries<Dim> | string | null
          : S extends StrSeries<Dim>
            ? StrSeries<Dim> | string | null
            : S extends CodeSeries<infer C, Dim>
              ? CodeSeries<C, Dim> | string | null
              : S extends Pending
                ? Thenable
                : Thenable;

/** `when(condition).then(value)`, then more `.when(c).then(v)`, then `.otherwise(v)`. */
export class When<D extends Dim> {
  constructor(
    private readonly branches: { when: QSeries; then: unknown }[],
    private readonly condition: QSeries,
  ) {}
  then<V extends Thenable>(value: V): CaseExpression<SeriesFor<V, D>, Join<D, DimOf<V>>> {
    return new CaseExpression([...this.branches, { when: this.condition, then: value }]);
  }
}

export class CaseExpression<S, D extends Dim> {
  constructor(private readonly branches: { when: QSeries; then: unknown }[]) {}
  when<D2 extends Dim = "patient">(condition: BoolSeries<D2> | boolean): { then<V extends SameAs<S>>(value: V): CaseExpression<Resolve<S, V, D>, Join<D, Join<D2, DimOf<V>>>> } {
    const cond = toNode("when()", condition, "bool");
    return { then: (value) => new CaseExpression([...this.branches, { when: cond, then: value }]) };
  }
  /** The value when no condition is true; `otherwise(null)` when there is none. */
  otherwise<V extends SameAs<S>>(value: V): SeriesWithDim<Resolve<S, V, D>, Join<D, DimOf<V>>> {
    return buildCase("when().otherwise()", this.branches, value) as SeriesWithDim<Resolve<S, V, D>, Join<D, DimOf<V>>>;
  }
}
type SeriesWithDim<S, D extends Dim> = S extends BoolSeries<Dim>
  ? BoolSeries<D>
  : S extends NumberSeries<Dim>
    ? NumberSeries<D>
    : S extends IntSeries<Dim>
      ? IntSeries<D>
      : S extends FloatSeries<Dim>
        ? FloatSeries<D>
        : S extends DateSeries<Dim>
          ? DateSeries<D>
          : S extends StrSeries<Dim>
            ? StrSeries<D>
            : S extends CodeSeries<infer C, Dim>
              ? CodeSeries<C, D>
              : S extends MultiCodeSeries<infer C, Dim>
                ? MultiCodeSeries<C, D>
                : never;

export function when<D extends Dim = "patient">(condition: BoolSeries<D> | boolean): When<D> {
  return new When<D>([], toNode("when()", condition, "bool"));
}

type Extremable = IntSeries<Dim> | FloatSeries<Dim> | DateSeries<Dim> | StrSeries<Dim> | number | string;
type ExtremeOf<A extends readonly unknown[]> = A extends readonly (infer V)[]
  ? [V] extends [number | NumberSeries<Dim>]
    ? NumberSeries<DimsOf<A>>
    : [V] extends [IntSeries<Dim> | number]
      ? IntSeries<DimsOf<A>>
      : [V] extends [FloatSeries<Dim> | number]
        ? FloatSeries<DimsOf<A>>
        : [V] extends [DateSeries<Dim> | string]
          ? DateSeries<DimsOf<A>>
          : [V] extends [StrSeries<Dim> | string]
            ? StrSeries<DimsOf<A>>
            : never
  : never;
type DimsOf<A extends readonly unknown[]> = "event" extends DimOf<A[number]> ? "event" : "patient";

function extreme(method: string, name: "MaximumOf" | "MinimumOf", args: readonly unknown[]): AnySeries {
  if (args.length < 2) throw new EnclaveError(`${method}: give at least two values`);
  const typed = args.filter((a) => isSeries(a) && (a as unknown as Record<symbol, unknown>)[FLEXIBLE] === undefined).map((a) => nodeOf(a as AnySeries).type as ScalarType);
  let t: ScalarType | undefined = typed[0];
  if (!t) {
    const lits = args.map((a) => (isSeries(a) ? ((a as unknown as Record<symbol, unknown>)[FLEXIBLE] as Scalar) : (a as Scalar)));
    const types = new Set(lits.map(literalType));
    t = types.size === 1 ? [...types][0]! : types.size === 2 && types.has("int") && types.has("float") ? "float" : undefined;
    if (!t) throw new EnclaveError(`${method}: the values have different types (${[...types].join(", ")})`);
  }
  const want = t;
  return wrap(build(method, () => Q.fn(name, ...args.map((a, i) => toNode(`${method} argument ${i + 1}`, a, want)))));
}

/** The largest of the values for each patient, ignoring NULLs. */
export function maximumOf<A extends readonly Extremable[]>(...args: A): ExtremeOf<A> {
  return extreme("maximumOf()", "MaximumOf", args) as ExtremeOf<A>;
}
/** The smallest of the values for each patient, ignoring NULLs. */
export function minimumOf<A extends readonly Extremable[]>(...args: A): ExtremeOf<A> {
  return extreme("minimumOf()", "MinimumOf", args) as ExtremeOf<A>;
}

// ==========================================================================
// CONSTANTS
// ==========================================================================

/**
 * A constant series: a number (int if integral, adopting a float series' type
 * when it meets one), an ISO date string (a date), another string (a str), a boolean.
 */
export function value(x: number): NumberSeries<"patient">;
export function value<S extends string>(x: S): S extends IsoDate ? DateSeries<"patient"> : StrSeries<"patient">;
export function value(x: boolean): BoolSeries<"patient">;
export function value(x: number | string | boolean): AnySeries {
  if (typeof x === "number") return numberLiteral(x);
  if (typeof x === "string" || typeof x === "boolean") return wrap(Q.value(literalType(x), x));
  throw new EnclaveError(`value(): expected a number, a string or a boolean, got ${describeArg(x)}`);
}

export const days = <D extends Dim = "patient">(n: number | IntSeries<D>): Duration<D> => new Duration<D>("days", n);
export const weeks = <D extends Dim = "patient">(n: number | IntSeries<D>): Duration<D> => new Duration<D>("weeks", n);
export const months = <D extends Dim = "patient">(n: number | IntSeries<D>): Duration<D> => new Duration<D>("months", n);
export const years = <D extends Dim = "patient">(n: number | IntSeries<D>): Duration<D> => new Duration<D>("years", n);

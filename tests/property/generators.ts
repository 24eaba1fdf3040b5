// Generators for the property-based differential tests: random tables (with
// NULLs, edge values, duplicate rows and ties) and random well-typed query
// models built through the validating constructors `Q.*`.
//
// A query model is built from a *choice sequence*: an array of random naturals
// that the builder consumes one choice at a time (choice 0 is always the
// simplest alternative; an exhausted sequence gives 0s). fast-check shrinks the
// array (dropping elements, lowering values towards 0), which shrinks the query
// towards the simplest one that still fails, and a failure replays exactly from
// the seed and path fast-check prints.
//
// The generator keeps inside what the contract pins down (see the README in this
// folder and "Semantics that must hold"):
//  * every int expression carries a bound on its absolute value, so nothing
//    (sums over rows included) leaves the safe-integer range;
//  * every float expression carries a bound, a number of fractional bits (when
//    it is an exact dyadic value) and whether it is *deterministic*: computed by
//    correctly-rounded IEEE operations that every engine performs alike. `pow`
//    (libm-dependent) and sums of inexact values (order-dependent) are not, so
//    their results only reach operations that are continuous (arithmetic, min,
//    max, output), never comparisons, sort keys, casts, floor division or sets;
//  * every date expression carries the range of days it can take, so date
//    arithmetic stays within years 1..9999.

import fc from "fast-check";
import {
  type Dataset,
  type Frame,
  type ManyRowsFrame,
  type PickOneRowPerPatient,
  type Scalar,
  type ScalarType,
  type Schema,
  type Series,
  type InlinePatientTable,
  type SelectTable,
  type SelectPatientTable,
  Q,
  QueryModelError,
  daysFromCivil,
  formatIsoDate,
  isPatientLevel,
  makeDataset,
  parseIsoDate,
} from "../../src/querymodel/index.js";
import type { Row } from "../../src/engines/types.js";

// ==========================================================================
// TABLES
// ==========================================================================

/** Every table has these columns: each value type, a code type and a multi-code type. */
export const COLUMNS = {
  b1: "bool",
  i1: "int",
  i2: "int",
  f1: "float",
  f2: "float",
  s1: "str",
  d1: "date",
  d2: "date",
  c1: "snomedct",
  m1: "icd10multi",
} as const satisfies Schema;
type Column = keyof typeof COLUMNS;
const COLUMN_NAMES = Object.keys(COLUMNS) as Column[];

export const P: SelectPatientTable = Q.selectPatientTable("p", COLUMNS);
export const E: SelectTable = Q.selectTable("e", COLUMNS);
export const G: SelectTable = Q.selectTable("g", COLUMNS);

/** Patient ids 1..N_PATIENTS (every table draws from the same few, so patients are shared, or in one table only). */
export const N_PATIENTS = 7;
const MAX_E_ROWS = 14;
const MAX_G_ROWS = 8;
const MAX_DUPLICATES = 4;
/** The most rows one patient can have in one event table: bounds sums. */
const MAX_ROWS_PER_PATIENT = MAX_E_ROWS + MAX_DUPLICATES;

// Edge values. The first of each pool is the one a shrink goes to.
const WIDE_INTS = [0, 1, -1, 2, 7, -7, 10, 100, -100, 12345, -12345, 1_000_000_000, -1_000_000_000, 2_147_483_647, -2_147_483_648, 4_294_967_296];
const SMALL_INTS = [0, 1, 2, 3, -1, -2, 5, 12];
/** Dyadic floats (multiples of 1/4): sums, differences and products of these are exact. */
const DYADIC_FLOATS = [0, 0.5, -0.5, 1, 1.25, -2.75, 3, 0.25, 100.25, -1000, 1_000_000];
/** Any floats: fractions that binary cannot hold, tiny and negative values, -0. */
const ANY_FLOATS = [0, 0.1, -0.3, 0.001, 2.5, 1 / 3, 123.456, -0, 100_000, -7.77, 1e-7];
// "ｚ" (U+FF5A) and "😀" (U+1F600) order differently by UTF-16 code unit and by code point: every engine must use code points.
export const STRINGS = ["", "a", "A", "abc", "ab", "a%b", "a_b", "%", "_", "O'Brien", "'", '"q"', "é", "e\u0301", "Ω", "日本", "a b", "z", "ß", "😀", "ｚ", "\\", "abc%", "Ab"];
export const DATES = [
  "2020-01-31",
  "2020-02-29",
  "2020-03-01",
  "2019-12-31",
  "2020-01-01",
  "2021-02-28",
  "2021-03-31",
  "2000-02-29",
  "1999-12-31",
  "2000-01-01",
  "1900-01-01",
  "1900-02-28",
  "1900-12-31",
  "2100-02-28",
  "2100-12-31",
  "2024-02-29",
  "2023-04-30",
  "2024-08-31",
];
/** Literal-only dates at the ends of the range every engine can hold (arithmetic on them stays in range by the bounds). */
const EXTREME_DATES = ["0001-01-01", "9999-12-31", "1600-02-29", "0999-12-31"];
const SNOMED = ["123456", "1234567", "999999", "100000", "22298006", "123456789012345678", "73211009"];
const MULTI = ["", "A01", "A01,B02X", "B02X", "A011,C33", "a01", "A01 B20", "Z999", "C33X|A0"];
/** Needles for `contains` on icd10multi (prefixes, as the contract checks them). */
const MULTI_NEEDLES = ["A", "A0", "A01", "B02X", "C33", "Z", "A011", "B"];
const STR_NEEDLES = ["", "a", "%", "_", "b", "'", "é", "1", "23", "A0", ",", "😀"];
const SNOMED_NEEDLES = ["123456", "999999", "100000"];

const DAY_MIN = daysFromCivil(1, 1, 1);
const DAY_MAX = daysFromCivil(9999, 12, 31);
const DATE_DAYS = DATES.map((d) => parseIsoDate(d)!);
const DATE_LO = Math.min(...DATE_DAYS);
const DATE_HI = Math.max(...DATE_DAYS);

function poolOf(t: ScalarType, column?: string): readonly Scalar[] {
  switch (t) {
    case "bool":
      return [true, false];
    case "int":
      return column === "i2" ? SMALL_INTS : WIDE_INTS;
    case "float":
      return column === "f2" ? ANY_FLOATS : DYADIC_FLOATS;
    case "str":
      return STRINGS;
    case "date":
      return DATES;
    case "snomedct":
      return SNOMED;
    case "icd10multi":
      return MULTI;
    default:
      throw new Error(`no pool for ${t}`);
  }
}

function cellArb(t: ScalarType, column: string): fc.Arbitrary<Scalar> {
  return fc.option(fc.constantFrom(...poolOf(t, column)), { nil: null, freq: 4 });
}

function rowArb(): fc.Arbitrary<Row> {
  return fc.tuple(fc.integer({ min: 1, max: N_PATIENTS }), ...COLUMN_NAMES.map((c) => cellArb(COLUMNS[c], c))) as fc.Arbitrary<Row>;
}

/** An event table: rows, then copies of its first few rows (duplicates). */
function eventRowsArb(max: number): fc.Arbitrary<Row[]> {
  return fc
    .tuple(fc.array(rowArb(), { maxLength: max }), fc.nat({ max: MAX_DUPLICATES }))
    .map(([rows, dups]) => [...rows, ...rows.slice(0, dups)]);
}

export type Tables = { p: Row[]; e: Row[]; g: Row[] };

/** The patient table `p` (one row per patient, some patients absent), the event tables `e` and `g`. */
export const tablesArb: fc.Arbitrary<Tables> = fc.record({
  p: fc.uniqueArray(rowArb(), { selector: (r) => r[0], maxLength: N_PATIENTS }),
  e: eventRowsArb(MAX_E_ROWS),
  g: eventRowsArb(MAX_G_ROWS),
});

// ==========================================================================
// SERIES WITH WHAT WE KNOW OF THEIR VALUES
// ==========================================================================

/** A built series and what the generator knows of its values. */
interface G {
  s: Series;
  /** int/float: a bound on |value|. */
  bound: number;
  /** float: fractional bits when the value is an exact multiple of 2^-frac (Infinity when not known to be). */
  frac: number;
  /** float: every engine computes the same double (see the top of this file). */
  det: boolean;
  /** date: the range of days (since 1970-01-01) the value can take. */
  lo: number;
  hi: number;
}

const INT_LIMIT = 2 ** 44; // × MAX_ROWS_PER_PATIENT stays far below 2^53
const EXACT_LIMIT = 2 ** 50; // bound × 2^frac below this: + − × of such values are exact
const FLOAT_LIMIT = 1e12; // deterministic floats
const NONDET_LIMIT = 1e5; // floats that engines may round differently: keep absolute error ≪ 1e-9

function g(s: Series, m: Partial<Omit<G, "s">> = {}): G {
  return { s, bound: m.bound ?? 0, frac: m.frac ?? 0, det: m.det ?? true, lo: m.lo ?? 0, hi: m.hi ?? 0 };
}
function isExact(x: G): boolean {
  return x.s.type === "int" || (Number.isFinite(x.frac) && x.bound * 2 ** x.frac <= EXACT_LIMIT);
}
/** Normalises a float's knowledge: loses exactness when it no longer fits. */
function fl(s: Series, bound: number, frac: number, det: boolean): G | undefined {
  if (!Number.isFinite(bound) || bound > (det ? FLOAT_LIMIT : NONDET_LIMIT)) return undefined;
  const exact = Number.isFinite(frac) && bound * 2 ** frac <= EXACT_LIMIT;
  return g(s, { bound, frac: exact ? frac : Infinity, det });
}
function int(s: Series, bound: number): G | undefined {
  return Number.isFinite(bound) && bound <= INT_LIMIT ? g(s, { bound }) : undefined;
}
function date(s: Series, lo: number, hi: number): G | undefined {
  return lo >= DAY_MIN && hi <= DAY_MAX ? g(s, { lo, hi }) : undefined;
}

function columnInfo(s: Series, t: ScalarType, column: string): G {
  switch (t) {
    case "int":
      return g(s, { bound: column === "i2" ? 12 : 2 ** 32 });
    case "float":
      return column === "f2" ? g(s, { bound: 1e5, frac: Infinity }) : g(s, { bound: 1e6, frac: 2 });
    case "date":
      return g(s, { lo: DATE_LO, hi: DATE_HI });
    default:
      return g(s);
  }
}

/** Fractional bits of a float literal, when it has few. */
function fracOf(x: number): number {
  for (let k = 0; k <= 8; k++) if (Number.isInteger(x * 2 ** k)) return k;
  return Infinity;
}
function literalInfo(s: Series, t: ScalarType, v: Scalar): G {
  if (v === null) return g(s, { lo: DATE_LO, hi: DATE_LO });
  if (t === "int") return g(s, { bound: Math.abs(v as number) });
  if (t === "float") return g(s, { bound: Math.abs(v as number), frac: fracOf(v as number) });
  if (t === "date") return g(s, { lo: parseIsoDate(v as string)!, hi: parseIsoDate(v as string)! });
  return g(s);
}

// ==========================================================================
// THE BUILDER
// ==========================================================================

type T = "bool" | "int" | "float" | "str" | "date" | "snomedct" | "icd10multi";
const ALL_TYPES: T[] = ["int", "bool", "float", "date", "str", "snomedct", "icd10multi"];
/** Variables' types: weighted towards those with the most operations. */
const VARIABLE_TYPES: T[] = ["int", "int", "bool", "float", "float", "date", "date", "date", "str", "snomedct", "icd10multi"];
const COMPARABLE: T[] = ["int", "float", "date", "str", "snomedct"];
const SORTABLE: T[] = ["int", "date", "str", "bool", "float", "snomedct"];

/** Where a series lives: null for patient level, else the many-rows frame whose rows it has values for. */
type Dom = ManyRowsFrame | null;

interface Opts {
  /** The series must come out deterministic (floats: see above). */
  det?: boolean;
  /** The series must be many-rows (it is aggregated, or a sort key). */
  row?: boolean;
  /** int: the largest bound acceptable. */
  maxBound?: number;
}

/** Patient ids an inline table may hold: the tables' patients, and one beyond them. */
const INLINE_SCHEMA = { x_i: "int", x_s: "str", x_d: "date", x_b: "bool" } as const satisfies Schema;

export class Builder {
  private i = 0;
  /** How many choices were consumed. */
  get consumed(): number {
    return this.i;
  }
  private readonly frames: ManyRowsFrame[] = [];
  private readonly picks: PickOneRowPerPatient[] = [];
  private inline: InlinePatientTable | undefined;

  constructor(private readonly seq: readonly number[]) {}

  // ---- choices ----------------------------------------------------------

  /** A choice in [0, n): 0 is the simplest. */
  choose(n: number): number {
    if (n <= 1) return 0;
    const c = this.i < this.seq.length ? this.seq[this.i]! : 0;
    this.i++;
    return c % n;
  }
  pick<X>(xs: readonly X[]): X {
    return xs[this.choose(xs.length)]!;
  }
  /** True with probability about 1/n (false when the sequence is exhausted). */
  chance(n: number): boolean {
    return this.choose(n) === n - 1;
  }

  // ---- the dataset ------------------------------------------------------

  dataset(depth = 4): Dataset {
    const base = this.pick([
      () => Q.fn("Or", Q.aggregate("Exists", E), Q.aggregate("Exists", P)),
      () => Q.fn("Or", Q.fn("Or", Q.aggregate("Exists", E), Q.aggregate("Exists", P)), Q.aggregate("Exists", G)),
      () => Q.fn("Or", Q.aggregate("Exists", P), Q.aggregate("Exists", G)),
    ])();
    let population: Series = base;
    if (this.chance(3)) population = Q.fn("And", base, this.series("bool", null, depth - 1).s);
    const n = 2 + this.choose(5);
    const variables = Array.from({ length: n }, (_, k) => ({ name: `v${k}`, series: this.series(this.pick(VARIABLE_TYPES), null, depth).s }));
    return makeDataset(population, variables);
  }

  // ---- frames -----------------------------------------------------------

  /** A many-rows frame: a table, with filters and sorts on top; often one built before. */
  frame(depth: number): ManyRowsFrame {
    if (this.frames.length > 0 && this.chance(3)) return this.pick(this.frames);
    let f: ManyRowsFrame = this.pick([E, G]);
    const steps = depth <= 0 ? 0 : this.choose(4);
    for (let k = 0; k < steps; k++) f = this.choose(3) === 2 ? this.sortStep(f, depth - 1) : this.filterStep(f, depth - 1);
    this.frames.push(f);
    return f;
  }

  /** The frames from the table down to `f`: each one's domain is an ancestor of f's (or the same). */
  private chain(f: ManyRowsFrame): ManyRowsFrame[] {
    const out: ManyRowsFrame[] = [];
    for (let x: ManyRowsFrame = f; ; x = (x as Exclude<ManyRowsFrame, SelectTable>).source) {
      out.unshift(x);
      if (x.kind === "SelectTable") return out;
    }
  }

  private filterStep(f: ManyRowsFrame, depth: number): ManyRowsFrame {
    // The condition may be drawn from the frame, any frame above it, or be patient-level.
    const chain = this.chain(f);
    const dom: Dom = this.chance(4) ? null : chain[chain.length - 1 - this.choose(chain.length)]!;
    let c = this.series("bool", dom, depth).s;
    if (this.chance(4)) c = Q.fn("Or", Q.fn("Not", c), Q.fn("IsNull", c)); // exceptWhere
    return Q.filter(f, c);
  }

  private sortStep(f: ManyRowsFrame, depth: number): ManyRowsFrame {
    const chain = this.chain(f);
    const n = 1 + this.choose(3);
    const keys = Array.from({ length: n }, () => {
      const dom = chain[chain.length - 1 - this.choose(chain.length)]!;
      return this.series(this.pick(SORTABLE), dom, depth, { det: true, row: true }).s;
    });
    return Q.sort(f, keys);
  }

  private sorted(depth: number): ManyRowsFrame {
    const f = this.frame(depth);
    const chain = this.chain(f);
    return chain.some((x) => x.kind === "Sort") ? f : this.sortStep(f, depth - 1);
  }

  private pickFrame(depth: number): PickOneRowPerPatient {
    if (this.picks.length > 0 && this.chance(2)) return this.pick(this.picks);
    const p = Q.pick(this.sorted(depth), this.pick(["first", "last"] as const));
    this.picks.push(p);
    return p;
  }

  private inlineTable(): InlinePatientTable {
    if (this.inline) return this.inline;
    const rows: Scalar[][] = [];
    for (let pid = 1; pid <= N_PATIENTS + 1; pid++) {
      if (this.choose(3) === 0) continue;
      // Dates from the column pool, so that x_d has the range a date column has.
      rows.push([pid, this.literal("int"), this.literal("str"), this.chance(6) ? null : this.pick(DATES), this.literal("bool")]);
    }
    this.inline = Q.inlinePatientTable(INLINE_SCHEMA, rows);
    return this.inline;
  }

  // ---- series -----------------------------------------------------------

  /** A literal of a type from its pool, sometimes NULL. */
  private literal(t: ScalarType, column?: string): Scalar {
    if (this.chance(6)) return null;
    if (t === "int" && this.chance(3)) return this.choose(41) - 20;
    if (t === "date" && this.chance(8)) return this.pick(EXTREME_DATES);
    const col = column ?? (t === "int" ? this.pick(["i1", "i2"]) : t === "float" ? this.pick(["f1", "f2"]) : undefined);
    return this.pick(poolOf(t, col));
  }

  private value(t: T): G {
    const v = this.literal(t);
    return literalInfo(Q.value(t, v), t, v);
  }

  /** Columns of frames that share `dom`'s rows: dom itself, and the sorts and filters-free path below it. */
  private sameDomainFrames(dom: ManyRowsFrame): ManyRowsFrame[] {
    const out: ManyRowsFrame[] = [dom];
    let x = dom;
    while (x.kind === "Sort") {
      x = x.source;
      out.push(x);
    }
    return out;
  }

  private column(t: T, dom: Dom, depth: number): G {
    const names = COLUMN_NAMES.filter((c) => COLUMNS[c] === t);
    const name = this.pick(names);
    let frame: Frame;
    if (dom) frame = this.pick(this.sameDomainFrames(dom));
    else {
      const inlineNames = Object.entries(INLINE_SCHEMA).filter(([, u]) => u === t).map(([c]) => c);
      const k = this.choose(inlineNames.length ? 3 : 2);
      if (k === 1) return columnInfo(Q.column(this.pickFrame(depth - 1), name), t, name);
      if (k === 2) {
        const c = this.pick(inlineNames);
        return columnInfo(Q.column(this.inlineTable(), c), t, c);
      }
      frame = P;
    }
    return columnInfo(Q.column(frame, name), t, name);
  }

  /** A leaf: a column or a literal. */
  private leaf(t: T, dom: Dom, depth: number, opts: Opts): G {
    for (let attempt = 0; attempt < 3; attempt++) {
      const x = opts.row || this.choose(3) !== 0 ? this.column(t, dom, depth) : this.value(t);
      if (this.fits(x, opts)) return x;
    }
    // The plainest column that fits: i2 (small), f1 (exact).
    const name = t === "int" ? "i2" : t === "float" ? "f1" : this.pick(COLUMN_NAMES.filter((c) => COLUMNS[c] === t));
    return columnInfo(Q.column(dom ?? P, name), t, name);
  }

  private fits(x: G, opts: Opts): boolean {
    if (opts.det && !x.det) return false;
    if (opts.row && isPatientLevel(x.s)) return false;
    if (opts.maxBound !== undefined && (x.s.type === "int" || x.s.type === "float") && x.bound > opts.maxBound) return false;
    return true;
  }

  /** A series of type t over `dom` (null: patient level). */
  series(t: T, dom: Dom, depth: number, opts: Opts = {}): G {
    if (depth <= 0 || this.choose(4) === 0) return this.leaf(t, dom, depth, opts);
    for (let attempt = 0; attempt < 4; attempt++) {
      const producers = this.producers(t, dom, opts);
      const make = this.pick(producers);
      let x: G | undefined;
      try {
        x = make(depth - 1);
      } catch (e) {
        // The generator builds well-typed models by construction; a refusal here is a generator bug.
        if (e instanceof QueryModelError) throw new Error(`generator built an invalid model: ${e.message}`, { cause: e });
        throw e;
      }
      if (x && this.fits(x, opts)) return x;
    }
    return this.leaf(t, dom, depth, opts);
  }

  /** Any many-rows series over `dom` when dom is set; at patient level, a many-rows series over a fresh frame. */
  private sub(t: T, dom: Dom, depth: number, opts: Opts = {}): G {
    return this.series(t, dom, depth, opts);
  }

  private producers(t: T, dom: Dom, opts: Opts): ((depth: number) => G | undefined)[] {
    const ps: ((depth: number) => G | undefined)[] = [];
    const add = (weight: number, p: (depth: number) => G | undefined) => {
      for (let k = 0; k < weight; k++) ps.push(p);
    };
    // Patient-level series apply to every row of a frame.
    if (dom && !opts.row) add(1, (d) => this.series(t, null, d, opts));
    add(1, () => this.leaf(t, dom, 0, opts));
    add(2, (d) => this.caseOf(t, dom, d, opts));
    if (dom === null) for (const [w, p] of this.aggregations(t)) add(w, p);
    switch (t) {
      case "bool":
        add(3, (d) => this.comparison(dom, d));
        add(2, (d) => this.logic(dom, d));
        add(1, (d) => g(Q.fn("IsNull", this.sub(this.pick(ALL_TYPES), dom, d).s)));
        add(2, (d) => this.contains(dom, d));
        add(3, (d) => this.isIn(dom, d));
        break;
      case "int":
        add(4, (d) => this.arithmetic("int", dom, d));
        add(2, (d) => this.floorDivide(dom, d));
        add(3, (d) => this.castToInt(dom, d));
        add(2, (d) => {
          const x = this.sub("date", dom, d);
          return g(Q.fn(this.pick(["YearFromDate", "MonthFromDate", "DayFromDate"] as const), x.s), { bound: 9999 });
        });
        add(4, (d) => this.dateDifference(dom, d));
        add(1, (d) => this.nary("int", dom, d, opts));
        break;
      case "float":
        add(4, (d) => this.arithmetic("float", dom, d));
        add(2, (d) => this.trueDivide(dom, d));
        add(2, (d) => this.power(dom, d));
        add(1, (d) => {
          const x = this.sub(this.pick(["int", "bool"] as const), dom, d);
          return fl(Q.fn("CastToFloat", x.s), x.s.type === "bool" ? 1 : x.bound, 0, true);
        });
        add(1, (d) => this.nary("float", dom, d, opts));
        break;
      case "date":
        add(1, (d) => {
          const x = this.sub("date", dom, d);
          return date(Q.fn(this.pick(["ToFirstOfYear", "ToFirstOfMonth"] as const), x.s), x.lo - 366, x.hi);
        });
        add(6, (d) => this.dateAdd(dom, d));
        add(1, (d) => this.nary("date", dom, d, opts));
        break;
      case "str":
      case "snomedct":
        add(1, (d) => this.nary(t, dom, d, opts));
        break;
      case "icd10multi":
        break;
    }
    return ps;
  }

  // ---- productions ------------------------------------------------------

  private caseOf(t: T, dom: Dom, depth: number, opts: Opts): G | undefined {
    const inner: Opts = { det: opts.det, maxBound: opts.maxBound };
    if (this.chance(4)) {
      // x.whenNullThen(y): the compiler writes this one as COALESCE.
      const x = this.sub(t, dom, depth, inner);
      const y = this.sub(t, dom, depth, inner);
      return this.merge(t, Q.case([{ when: Q.fn("IsNull", x.s), then: y.s }], x.s), [x, y]);
    }
    const n = 1 + this.choose(3);
    const parts: G[] = [];
    const cases = Array.from({ length: n }, () => {
      const when = this.sub("bool", dom, depth).s;
      if (this.chance(5)) return { when, then: null };
      const then = this.sub(t, dom, depth, inner);
      parts.push(then);
      return { when, then: then.s };
    });
    let otherwise: Series | null = null;
    if (parts.length === 0 || !this.chance(4)) {
      const o = this.sub(t, dom, depth, inner);
      parts.push(o);
      otherwise = o.s;
    }
    return this.merge(t, Q.case(cases, otherwise), parts);
  }

  /** What is known of a series whose value is one of `parts`' values (Case, MinimumOf, MaximumOf). */
  private merge(t: T, s: Series, parts: G[]): G | undefined {
    const bound = Math.max(...parts.map((p) => p.bound));
    if (t === "int") return int(s, bound);
    if (t === "float") return fl(s, bound, Math.max(...parts.map((p) => p.frac)), parts.every((p) => p.det));
    if (t === "date") return date(s, Math.min(...parts.map((p) => p.lo)), Math.max(...parts.map((p) => p.hi)));
    return g(s);
  }

  private nary(t: T, dom: Dom, depth: number, opts: Opts): G | undefined {
    const n = 2 + this.choose(3);
    const parts = Array.from({ length: n }, () => this.sub(t, dom, depth, { det: opts.det, maxBound: opts.maxBound }));
    return this.merge(t, Q.fn(this.pick(["MinimumOf", "MaximumOf"] as const), ...parts.map((p) => p.s)), parts);
  }

  private comparison(dom: Dom, depth: number): G {
    const fn = this.pick(["EQ", "NE", "LT", "LE", "GT", "GE"] as const);
    const t = fn === "EQ" || fn === "NE" ? this.pick(ALL_TYPES) : this.pick(COMPARABLE);
    const a = this.sub(t, dom, depth, { det: true });
    // Often compare with a literal, so that equalities hold now and then.
    const b = this.chance(2) ? this.value(t) : this.sub(t, dom, depth, { det: true });
    return g(Q.fn(fn, a.s, b.s));
  }

  private logic(dom: Dom, depth: number): G {
    const k = this.choose(3);
    const a = this.sub("bool", dom, depth);
    if (k === 0) return g(Q.fn("Not", a.s));
    return g(Q.fn(k === 1 ? "And" : "Or", a.s, this.sub("bool", dom, depth).s));
  }

  private contains(dom: Dom, depth: number): G {
    const t = this.pick(["str", "snomedct", "icd10multi"] as const);
    const hay = this.sub(t, dom, depth);
    let needle: Series;
    const k = this.choose(3);
    if (k === 2 && t === "str") needle = this.sub("str", dom, depth).s;
    else if (k >= 1 && t === "icd10multi") needle = Q.value("icd10multi", this.pick(MULTI_NEEDLES));
    else if (k >= 1 && t === "snomedct") needle = Q.value("snomedct", this.pick(SNOMED_NEEDLES));
    else needle = Q.value("str", this.chance(8) ? null : this.pick(STR_NEEDLES));
    return g(Q.fn("StringContains", hay.s, needle));
  }

  private isIn(dom: Dom, depth: number): G {
    const t = this.pick(ALL_TYPES);
    const lhs = this.sub(t, dom, depth, { det: true });
    const k = this.choose(3);
    let rhs: Series;
    if (k === 2) {
      // A patient's values of a many-rows series (CombineAsSet): the set is patient-level.
      rhs = Q.aggregate("CombineAsSet", this.series(t, this.frame(depth - 1), depth - 1, { det: true, row: true }).s);
    } else {
      rhs = Q.value(`set<${t}>`, k === 1 && t !== "bool" ? this.longSet(t) : this.shortSet(t));
    }
    return g(Q.fn("In", lhs.s, rhs));
  }

  private shortSet(t: T): Scalar[] {
    const n = this.choose(5);
    return Array.from({ length: n }, () => this.literal(t));
  }

  /** More than 20 distinct values: the SQL compiler puts these in a temporary table. */
  private longSet(t: T): Scalar[] {
    const pool = [...poolOf(t)];
    if (t === "float") pool.push(...ANY_FLOATS);
    if (t === "int") pool.push(...SMALL_INTS);
    const out = new Set<Scalar>(pool.filter(() => this.choose(2) === 1));
    if (this.chance(4)) out.add(null);
    for (let k = 0; out.size < 21 + this.choose(10); k++) {
      switch (t) {
        case "int":
          out.add(200 + k);
          break;
        case "float":
          out.add(200.5 + k);
          break;
        case "date":
          out.add(formatIsoDate(parseIsoDate("2010-01-01")! + 37 * k));
          break;
        case "snomedct":
          out.add(String(200000 + k));
          break;
        case "icd10multi":
          out.add(`Q${10 + k}`);
          break;
        default:
          out.add(`x${k}`);
      }
    }
    return [...out];
  }

  private arithmetic(t: "int" | "float", dom: Dom, depth: number): G | undefined {
    const fn = this.pick(["Add", "Subtract", "Multiply", "Negate", "Absolute"] as const);
    const a = this.sub(t, dom, depth);
    if (fn === "Negate" || fn === "Absolute") return t === "int" ? int(Q.fn(fn, a.s), a.bound) : fl(Q.fn(fn, a.s), a.bound, a.frac, a.det);
    const b = this.sub(t, dom, depth);
    const bound = fn === "Multiply" ? a.bound * b.bound : a.bound + b.bound;
    const s = Q.fn(fn, a.s, b.s);
    if (t === "int") return int(s, bound);
    return fl(s, bound, fn === "Multiply" ? a.frac + b.frac : Math.max(a.frac, b.frac), a.det && b.det);
  }

  /** The smallest |value| a non-zero exact number can have. */
  private minNonZero(x: G): number | undefined {
    return isExact(x) ? 2 ** -x.frac : undefined;
  }

  private floorDivide(dom: Dom, depth: number): G | undefined {
    const t = this.pick(["int", "float"] as const);
    const a = this.sub(t, dom, depth, { det: true });
    const b = this.sub(t, dom, depth, { det: true });
    const m = this.minNonZero(b);
    if (m === undefined) return undefined;
    return int(Q.fn("FloorDivide", a.s, b.s), a.bound / m + 1);
  }

  private trueDivide(dom: Dom, depth: number): G | undefined {
    const t = this.pick(["int", "float"] as const);
    const a = this.sub(t, dom, depth);
    const b = this.sub(t, dom, depth, { det: true });
    const m = this.minNonZero(b);
    if (m === undefined) return undefined;
    return fl(Q.fn("TrueDivide", a.s, b.s), a.bound / m, Infinity, a.det);
  }

  private power(dom: Dom, depth: number): G | undefined {
    const t = this.pick(["int", "float"] as const);
    const a = this.sub(t, dom, depth, { det: true, maxBound: 300 });
    const b = this.choose(3) > 0
      ? (() => {
          const v = this.pick(t === "int" ? [2, 0, 1, -1, 3, -2] : [0.5, 2, -1, 0, 1.5, -0.5, 3]);
          return literalInfo(Q.value(t, v), t, v);
        })()
      : this.sub(t, dom, depth, { det: true });
    const m = this.minNonZero(a);
    if (m === undefined) return undefined;
    const base = Math.max(a.bound, 1 / m, 1);
    return fl(Q.fn("Power", a.s, b.s), base ** b.bound, Infinity, false);
  }

  private castToInt(dom: Dom, depth: number): G | undefined {
    const x = this.sub(this.pick(["float", "bool"] as const), dom, depth, { det: true });
    return int(Q.fn("CastToInt", x.s), x.s.type === "bool" ? 1 : x.bound);
  }

  private dateDifference(dom: Dom, depth: number): G | undefined {
    const a = this.sub("date", dom, depth);
    const b = this.sub("date", dom, depth);
    const fn = this.pick(["DateDifferenceInDays", "DateDifferenceInMonths", "DateDifferenceInYears"] as const);
    const days = Math.max(Math.abs(a.hi - b.lo), Math.abs(b.hi - a.lo));
    return int(Q.fn(fn, a.s, b.s), fn === "DateDifferenceInDays" ? days : fn === "DateDifferenceInMonths" ? days / 28 + 2 : days / 365 + 2);
  }

  private dateAdd(dom: Dom, depth: number): G | undefined {
    const fn = this.pick(["DateAddDays", "DateAddMonths", "DateAddYears"] as const);
    const d = this.sub("date", dom, depth);
    const max = fn === "DateAddDays" ? 200_000 : fn === "DateAddMonths" ? 3000 : 300;
    // Mostly a small amount (month ends and Feb 29 meet shorter months), sometimes any int series.
    const n = this.choose(3) > 0 ? this.amount(fn) : this.sub("int", dom, depth, { maxBound: max });
    if (n.bound > max) return undefined;
    const shift = fn === "DateAddDays" ? n.bound : fn === "DateAddMonths" ? 31 * n.bound + 4 : 366 * n.bound + 4;
    return date(Q.fn(fn, d.s, n.s), d.lo - shift, d.hi + shift);
  }

  private amount(fn: "DateAddDays" | "DateAddMonths" | "DateAddYears"): G {
    const v = this.chance(8) ? null : fn === "DateAddDays" ? this.pick([1, -1, 29, 365, -366, 28, 59, 1461, -30, 0, 100_000]) : this.choose(49) - 24;
    return literalInfo(Q.value("int", v), "int", v);
  }

  /** Aggregations that give a patient-level series of type t. */
  private aggregations(t: T): [number, (depth: number) => G | undefined][] {
    const over = (u: T, depth: number, opts: Opts = {}) => this.series(u, this.frame(depth - 1), depth - 1, { ...opts, row: true });
    const out: [number, (depth: number) => G | undefined][] = [];
    switch (t) {
      case "bool":
        out.push([2, (d) => g(Q.aggregate("Exists", this.chance(2) ? over(this.pick(ALL_TYPES), d).s : this.anyFrame(d)))]);
        break;
      case "int":
        out.push([2, (d) => int(Q.aggregate("Count", this.chance(2) ? over(this.pick(ALL_TYPES), d).s : this.anyFrame(d)), MAX_ROWS_PER_PATIENT)]);
        out.push([1, (d) => int(Q.aggregate("CountDistinct", over(this.pick(ALL_TYPES), d, { det: true }).s), MAX_ROWS_PER_PATIENT)]);
        out.push([1, (d) => int(Q.aggregate("CountEpisodes", over("date", d).s, this.pick([0, 1, 7, 30, 365, 3000])), MAX_ROWS_PER_PATIENT)]);
        out.push([2, (d) => {
          const x = over("int", d);
          return int(Q.aggregate("Sum", x.s), x.bound * MAX_ROWS_PER_PATIENT);
        }]);
        out.push([2, (d) => {
          const x = over("int", d);
          return int(Q.aggregate(this.pick(["Min", "Max"] as const), x.s), x.bound);
        }]);
        break;
      case "float":
        out.push([2, (d) => {
          const x = over(this.pick(["float", "int"] as const), d);
          if (x.s.type === "int") return fl(Q.aggregate("Mean", x.s), x.bound, Infinity, true);
          return fl(Q.aggregate("Mean", x.s), x.bound, Infinity, x.det && isExact(x));
        }]);
        out.push([2, (d) => {
          const x = over("float", d);
          const bound = x.bound * MAX_ROWS_PER_PATIENT;
          // A sum of exact values is exact in any order; of inexact ones, it depends on the order.
          const exact = isExact(x) && bound * 2 ** x.frac <= EXACT_LIMIT;
          return fl(Q.aggregate("Sum", x.s), bound, exact ? x.frac : Infinity, x.det && exact);
        }]);
        out.push([1, (d) => {
          const x = over("float", d);
          return fl(Q.aggregate(this.pick(["Min", "Max"] as const), x.s), x.bound, x.frac, x.det);
        }]);
        break;
      case "date":
      case "str":
      case "snomedct":
        out.push([3, (d) => {
          const x = over(t, d);
          return t === "date" ? date(Q.aggregate(this.pick(["Min", "Max"] as const), x.s), x.lo, x.hi) : g(Q.aggregate(this.pick(["Min", "Max"] as const), x.s));
        }]);
        break;
      default:
        break;
    }
    return out;
  }

  /** Any frame Exists and Count accept: many-rows, the patient table, a picked row, the inline table. */
  private anyFrame(depth: number): Frame {
    const k = this.choose(5);
    if (k === 1) return P;
    if (k === 2) return this.pickFrame(depth - 1);
    if (k === 3) return this.inlineTable();
    return this.frame(depth - 1);
  }
}

// ==========================================================================
// ARBITRARIES
// ==========================================================================

/** How many choices a dataset may consume; beyond the end every choice is 0 (1% of datasets use more than ~800). */
const SEQ_LENGTH = 3000;

const rawChoicesArb = fc.array(fc.noBias(fc.nat({ max: 0xffff })), { minLength: SEQ_LENGTH, maxLength: SEQ_LENGTH });
const shrinkChoicesArb = fc.array(fc.nat({ max: 0xffff }), { maxLength: SEQ_LENGTH });

/**
 * A choice sequence, cut to the choices a dataset consumes: the shrinker then
 * only works on choices that matter (dropping them, lowering them towards 0).
 */
class ChoicesArbitrary extends fc.Arbitrary<number[]> {
  generate(mrng: fc.Random): fc.Value<number[]> {
    const seq = rawChoicesArb.generate(mrng, undefined).value;
    const b = new Builder(seq);
    b.dataset();
    return new fc.Value(seq.slice(0, b.consumed), undefined);
  }
  canShrinkWithoutContext(value: unknown): value is number[] {
    return shrinkChoicesArb.canShrinkWithoutContext(value);
  }
  shrink(value: number[], context: unknown): fc.Stream<fc.Value<number[]>> {
    return shrinkChoicesArb.shrink(value, context);
  }
}

export const choicesArb: fc.Arbitrary<number[]> = new ChoicesArbitrary();

/** A random, valid query-model dataset (population: patients with rows, maybe narrowed; several variables). */
export const datasetArb: fc.Arbitrary<Dataset> = choicesArb.map((seq) => new Builder(seq).dataset());

/** A dataset together with tables to run it on; shrinking stops after MAX_SHRINKS steps. */
export const MAX_SHRINKS = 400;
export const caseArb = fc.limitShrink(fc.record({ tables: tablesArb, dataset: datasetArb }), MAX_SHRINKS);

// What each function means, value by value: the reference semantics that every
// engine must reproduce. The memory engine calls these directly; the SQL
// compiler's spec cases are checked against them.

import type { FunctionName } from "./nodes.js";
import { type Scalar, civilFromDays, daysFromCivil, daysInMonth, formatIsoDate, parseIsoDate } from "./types.js";

type Fn = (...args: Scalar[]) => Scalar;

const days = (d: Scalar): number => parseIsoDate(d as string)!;
const ymd = (d: Scalar): [number, number, number] => civilFromDays(days(d));

// Dates outside years 1..9999 cannot be written or stored by every engine: NULL.
function dateOrNull(y: number, m: number, d: number): Scalar {
  return y < 1 || y > 9999 ? null : formatIsoDate(daysFromCivil(y, m, d));
}
function fromDays(n: number): Scalar {
  const [y, m, d] = civilFromDays(n);
  return dateOrNull(y, m, d);
}

/** Adds months; a day that does not exist in the target month rolls forward to the 1st of the next. */
export function addMonths(date: string, n: number): Scalar {
  const [y, m, d] = ymd(date);
  const total = y * 12 + (m - 1) + n;
  const ty = Math.floor(total / 12);
  const tm = total - ty * 12 + 1;
  if (d > daysInMonth(ty, tm)) return tm === 12 ? dateOrNull(ty + 1, 1, 1) : dateOrNull(ty, tm + 1, 1);
  return dateOrNull(ty, tm, d);
}

// Normalise -0 to 0 so that every engine prints the same.
const num = (x: number): number => (x === 0 ? 0 : x);

// Compare two non-NULL values of one type: numbers numerically, strings (dates,
// codes) by Unicode code point (as Python does, and as databases comparing UTF-8
// bytes do), booleans false < true.
export function compareValues(a: Scalar, b: Scalar): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  return compareCodePoints(String(a), String(b));
}

/**
 * JavaScript's `<` orders strings by UTF-16 code unit, which puts a character
 * beyond U+FFFF (a surrogate pair, D800–DFFF) before U+E000–U+FFFF. Moving the
 * surrogates above that range at the first difference gives code point order.
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) return fixup(x) < fixup(y) ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}
const fixup = (c: number): number => (c >= 0xd800 && c <= 0xdfff ? c + 0x2000 : c >= 0xe000 ? c - 0x800 : c);

// NULL in, NULL out: the rule for every function except the logical ones,
// IsNull, In and the horizontal aggregations.
const strict =
  (f: Fn): Fn =>
  (...args) =>
    args.some((a) => a === null) ? null : f(...args);

export const SEMANTICS: Record<Exclude<FunctionName, "In">, Fn> = {
  EQ: strict((a, b) => a === b),
  NE: strict((a, b) => a !== b),
  LT: strict((a, b) => compareValues(a, b) < 0),
  LE: strict((a, b) => compareValues(a, b) <= 0),
  GT: strict((a, b) => compareValues(a, b) > 0),
  GE: strict((a, b) => compareValues(a, b) >= 0),
  // Kleene logic: a known answer wins over NULL.
  And: (a, b) => (a === false || b === false ? false : a === null || b === null ? null : true),
  Or: (a, b) => (a === true || b === true ? true : a === null || b === null ? null : false),
  Not: strict((a) => !a),
  IsNull: (a) => a === null,
  Negate: strict((a) => num(0 - (a as number))),
  Absolute: strict((a) => num(Math.abs(a as number))),
  Add: strict((a, b) => (a as number) + (b as number)),
  Subtract: strict((a, b) => (a as number) - (b as number)),
  Multiply: strict((a, b) => num((a as number) * (b as number))),
  TrueDivide: strict((a, b) => (b === 0 ? null : num((a as number) / (b as number)))),
  FloorDivide: strict((a, b) => (b === 0 ? null : num(Math.floor((a as number) / (b as number))))),
  Power: strict((a, b) => {
    const x = a as number, y = b as number;
    if (x === 0 && y < 0) return null;
    if (x < 0 && !Number.isInteger(y)) return null;
    const r = Math.pow(x, y);
    return Number.isFinite(r) ? num(r) : null;
  }),
  CastToInt: strict((a) => (typeof a === "boolean" ? Number(a) : num(Math.trunc(a as number)))),
  CastToFloat: strict((a) => (typeof a === "boolean" ? Number(a) : (a as number))),
  // `%` and `_` are plain characters here, whatever SQL's LIKE makes of them.
  StringContains: strict((a, b) => (a as string).includes(b as string)),
  YearFromDate: strict((d) => ymd(d)[0]),
  MonthFromDate: strict((d) => ymd(d)[1]),
  DayFromDate: strict((d) => ymd(d)[2]),
  ToFirstOfYear: strict((d) => dateOrNull(ymd(d)[0], 1, 1)),
  ToFirstOfMonth: strict((d) => dateOrNull(ymd(d)[0], ymd(d)[1], 1)),
  DateAddDays: strict((d, n) => fromDays(days(d) + (n as number))),
  DateAddMonths: strict((d, n) => addMonths(d as string, n as number)),
  DateAddYears: strict((d, n) => addMonths(d as string, 12 * (n as number))),
  DateDifferenceInDays: strict((end, start) => days(end) - days(start)),
  // Whole calendar months and years: a unit counts once its day is reached.
  DateDifferenceInMonths: strict((end, start) => {
    const [ey, em, ed] = ymd(end), [sy, sm, sd] = ymd(start);
    return (ey - sy) * 12 + (em - sm) - (ed < sd ? 1 : 0);
  }),
  DateDifferenceInYears: strict((end, start) => {
    const [ey, em, ed] = ymd(end), [sy, sm, sd] = ymd(start);
    return ey - sy - (em < sm || (em === sm && ed < sd) ? 1 : 0);
  }),
  // NULLs are ignored; all NULL gives NULL.
  MinimumOf: (...args) => extreme(args, -1),
  MaximumOf: (...args) => extreme(args, 1),
};

function extreme(args: Scalar[], sign: number): Scalar {
  let best: Scalar = null;
  for (const a of args) if (a !== null && (best === null || sign * compareValues(a, best) > 0)) best = a;
  return best;
}

/** `In`: an empty set is false even for NULL; otherwise NULL gives NULL; NULLs in the set are ignored. */
export function isIn(value: Scalar, set: ReadonlySet<Scalar>): Scalar {
  const size = set.has(null) ? set.size - 1 : set.size;
  if (size === 0) return false;
  if (value === null) return null;
  return set.has(value);
}

/** Applies a function to scalar arguments (`In` takes a set as its second argument). */
export function applyFunction(fn: FunctionName, args: readonly (Scalar | ReadonlySet<Scalar>)[]): Scalar {
  if (fn === "In") return isIn(args[0] as Scalar, args[1] as ReadonlySet<Scalar>);
  return SEMANTICS[fn](...(args as Scalar[]));
}

/**
 * Counts episodes: sorted dates where each date more than `maxGap` days after
 * the previous one starts a new episode. NULL dates are ignored.
 */
export function countEpisodes(dates: readonly Scalar[], maxGap: number): number {
  const ds = dates.filter((d): d is string => d !== null).map((d) => days(d)).sort((a, b) => a - b);
  let episodes = 0;
  let last = -Infinity;
  for (const d of ds) {
    if (d - last > maxGap) episodes++;
    last = d;
  }
  return episodes;
}

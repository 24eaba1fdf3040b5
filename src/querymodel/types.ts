// The value types of the query model, the code systems and how literal values of
// each type are checked. Dates are ISO `YYYY-MM-DD` strings everywhere in the
// model; engines convert them as they need.

export const CODE_TYPES = ["snomedct", "ctv3", "icd10", "opcs4", "dmd", "bnf"] as const;
export const MULTI_CODE_TYPES = ["icd10multi", "opcs4multi"] as const;
export const SCALAR_TYPES = ["bool", "int", "float", "str", "date", ...CODE_TYPES, ...MULTI_CODE_TYPES] as const;

export type CodeType = (typeof CODE_TYPES)[number];
export type MultiCodeType = (typeof MULTI_CODE_TYPES)[number];
export type ScalarType = (typeof SCALAR_TYPES)[number];
/** The type of a series: a scalar, or a set of scalars (the right side of `In`). */
export type SeriesType = ScalarType | `set<${ScalarType}>`;

export type Scalar = null | boolean | number | string;

export function isScalarType(t: unknown): t is ScalarType {
  return typeof t === "string" && (SCALAR_TYPES as readonly string[]).includes(t);
}
export function isCodeType(t: SeriesType): t is CodeType {
  return (CODE_TYPES as readonly string[]).includes(t);
}
export function isMultiCodeType(t: SeriesType): t is MultiCodeType {
  return (MULTI_CODE_TYPES as readonly string[]).includes(t);
}
export function isSetType(t: SeriesType): t is `set<${ScalarType}>` {
  return t.startsWith("set<");
}
export function setOf(t: ScalarType): SeriesType {
  return `set<${t}>`;
}
export function elementType(t: SeriesType): ScalarType {
  return (isSetType(t) ? t.slice(4, -1) : t) as ScalarType;
}
export function isNumericType(t: SeriesType): t is "int" | "float" {
  return t === "int" || t === "float";
}
/** Types with an order: `<`, minimum, maximum and sorting accept them. */
export function isComparableType(t: SeriesType): boolean {
  return t === "int" || t === "float" || t === "date" || t === "str" || isCodeType(t);
}
/** Types stored as strings (codes and multi-code strings included). */
export function isStringLikeType(t: SeriesType): boolean {
  return t === "str" || isCodeType(t) || isMultiCodeType(t);
}

// Each coding system's format, as ehrQL checks it.
const CODE_PATTERNS: Record<CodeType | MultiCodeType, RegExp> = {
  snomedct: /^[1-9][0-9]{5,17}$/,
  dmd: /^[1-9][0-9]{5,17}$/,
  ctv3: /^(?:[0-9A-Za-z]{5}|[0-9A-Za-z]{4}\.|[0-9A-Za-z]{3}\.{2}|[0-9A-Za-z]{2}\.{3})$/,
  icd10: /^[A-Z][0-9]{2}[0-9X]?$/,
  opcs4: /^[ABCDEFGHJKLMNOPQRSTUVWXYZ][0-9]{2,3}$/,
  bnf: /^(?:[01][0-9]{6}[0-9A-Z]{2}(?:[A-Z][0-9A-Z]){3}|2[0-3][0-9]{9})$/,
  // The argument of `contains` on a multi-code string may be a code prefix.
  icd10multi: /^[A-Z](?:[0-9]{0,2}|[0-9]{2}X|[0-9]{3})$/,
  opcs4multi: /^[ABCDEFGHJKLMNOPQRSTUVWXYZ][0-9]{0,3}$/,
};

export const CODE_SYSTEM_NAMES: Record<CodeType | MultiCodeType, string> = {
  snomedct: "SNOMED CT",
  dmd: "dm+d",
  ctv3: "CTV3 (Read v3)",
  icd10: "ICD-10",
  opcs4: "OPCS-4",
  bnf: "BNF",
  icd10multi: "ICD-10 (prefix)",
  opcs4multi: "OPCS-4 (prefix)",
};

export function isValidCode(type: CodeType | MultiCodeType, code: string): boolean {
  return CODE_PATTERNS[type].test(code);
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses an ISO date into days since 1970-01-01, or undefined when it is not a real date. */
export function parseIsoDate(s: string): number | undefined {
  const m = ISO_DATE.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  return daysFromCivil(y, mo, d);
}

export function isIsoDate(s: unknown): s is string {
  return typeof s === "string" && parseIsoDate(s) !== undefined;
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  return [31, isLeapYear(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!;
}

// Howard Hinnant's civil-from-days algorithm: exact for the proleptic Gregorian
// calendar, and independent of time zones (Date objects are not).
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

export function formatIsoDate(days: number): string {
  const [y, m, d] = civilFromDays(days);
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** Checks that a literal fits a scalar type; returns a reason when it does not. */
export function checkScalar(type: ScalarType, value: Scalar): string | undefined {
  if (value === null) return undefined;
  switch (type) {
    case "bool":
      return typeof value === "boolean" ? undefined : `expected a boolean, got ${describe(value)}`;
    case "int":
      return typeof value === "number" && Number.isSafeInteger(value) ? undefined : `expected an integer, got ${describe(value)}`;
    case "float":
      return typeof value === "number" && Number.isFinite(value) ? undefined : `expected a number, got ${describe(value)}`;
    case "str":
      return typeof value === "string" ? undefined : `expected a string, got ${describe(value)}`;
    case "date":
      return isIsoDate(value) ? undefined : `expected a date as YYYY-MM-DD, got ${describe(value)}`;
    default:
      if (typeof value !== "string") return `expected a ${CODE_SYSTEM_NAMES[type]} code, got ${describe(value)}`;
      if (isMultiCodeType(type)) return undefined; // stored as they come
      return isValidCode(type, value) ? undefined : `${JSON.stringify(value)} is not a valid ${CODE_SYSTEM_NAMES[type]} code`;
  }
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

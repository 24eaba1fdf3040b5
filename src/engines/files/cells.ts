// How one value is written as text and read back, for table files and dataset
// outputs alike: an empty cell is NULL, booleans are T/F, dates YYYY-MM-DD.
// These are the conventions of ehrQL's CSV files, so files move between the two.

import { type Scalar, type ScalarType, checkScalar, isCodeType, isIsoDate } from "../../querymodel/index.js";

/** Why a cell's text is not a value of its column's type. Returned, not thrown: the caller knows the file and line. */
export class CellParseError extends Error {
  override name = "CellParseError";
}

const INT = /^-?[0-9]+$/;
// Any finite decimal number: 58, -1.5, .5, 5., 1e-3. Not NaN, Infinity or hex.
const FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const TRUE = new Set(["t", "true", "1"]);
const FALSE = new Set(["f", "false", "0"]);

/** Reads a cell's text (already unquoted) as a value of `type`. */
export function parseCell(text: string, type: ScalarType): Scalar | CellParseError {
  if (text === "") return null;
  const bad = (what: string) => new CellParseError(`${JSON.stringify(text)} is not ${what}`);
  switch (type) {
    case "bool": {
      const t = text.toLowerCase();
      return TRUE.has(t) ? true : FALSE.has(t) ? false : bad("a boolean (expected T or F)");
    }
    case "int": {
      if (!INT.test(text)) return bad("an integer (expected digits, optionally preceded by -)");
      const n = Number(text);
      if (!Number.isSafeInteger(n)) return bad(`an integer in the supported range (expected at most ${Number.MAX_SAFE_INTEGER} in size)`);
      return n === 0 ? 0 : n; // no -0
    }
    case "float": {
      const n = Number(text);
      if (!FLOAT.test(text) || !Number.isFinite(n)) return bad("a number (expected a finite decimal number such as 58 or -1.5)");
      return n === 0 ? 0 : n;
    }
    case "date":
      return isIsoDate(text) ? text : bad("a date (expected YYYY-MM-DD)");
    case "str":
      return text;
    default: {
      // Codes are checked against their system's format; multi-code strings pass as they come.
      const why = checkScalar(type, text);
      return why === undefined ? text : new CellParseError(why);
    }
  }
}

/**
 * Writes a value as a cell's text (before any CSV quoting): NULL is empty,
 * booleans T/F, ints as integers, integral floats with ".0" as Python writes
 * them, other floats in JavaScript's shortest round-trip form. A value that
 * does not fit the type is a bug in whatever produced it, so it throws.
 */
export function formatCell(value: Scalar, type: string): string {
  if (value === null) return "";
  const wrong = () => new Error(`formatCell: ${JSON.stringify(value)} is not a value of type ${type}`);
  switch (type) {
    case "bool":
      if (typeof value !== "boolean") throw wrong();
      return value ? "T" : "F";
    case "int":
      if (typeof value !== "number" || !Number.isSafeInteger(value)) throw wrong();
      return String(value === 0 ? 0 : value);
    case "float":
      if (typeof value !== "number" || !Number.isFinite(value)) throw wrong();
      return formatFloat(value);
    case "date":
      if (!isIsoDate(value)) throw wrong();
      return value;
    default:
      if (typeof value !== "string" && (type === "str" || isCodeType(type as ScalarType))) throw wrong();
      return String(value);
  }
}

function formatFloat(x: number): string {
  if (x === 0) return "0.0"; // -0 too: every engine writes the same
  if (!Number.isInteger(x)) return String(x);
  // Python's repr switches to exponent notation from 1e16; JavaScript's only from 1e21.
  return Math.abs(x) < 1e16 ? `${x}.0` : x.toExponential();
}

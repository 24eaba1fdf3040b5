// Statistical disclosure control for analysis scripts (`import ... from
// "enclave/sdc"` in a node:v1 action): the small steps that make a table of
// counts safe to release from level 4, the same rules that generate-measures
// applies. A table's counts are small-number suppressed and rounded here before
// they are written; the output checkers look at what was written, not at how.
//
// The ehrQL rule (applyDisclosureControl) is imported from the measures engine,
// so that a script and `enclave generate-measures` can never disagree on it.

import { ROUNDING_MULTIPLE, SUPPRESSION_THRESHOLD, applyDisclosureControl } from "../engines/measures.js";

export { ROUNDING_MULTIPLE, SUPPRESSION_THRESHOLD, applyDisclosureControl };

/** Python's round(), as ehrQL rounds: ties go to the even neighbour, so rounding is unbiased over many counts. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkCount(n: number, fn: string): void {
  if (typeof n !== "number" || !Number.isFinite(n)) throw new TypeError(`${fn}: ${String(n)} is not a number`);
}

/**
 * `n` rounded to the nearest multiple of `base` (5 by default), ties to the
 * even multiple as ehrQL rounds: 12 → 10, 13 → 15, with base 10 15 → 20 and 25 → 20.
 */
export function roundToNearest(n: number, base: number = ROUNDING_MULTIPLE): number {
  checkCount(n, "roundToNearest");
  if (!(base > 0) || !Number.isFinite(base)) throw new RangeError(`roundToNearest: the base must be a positive number, not ${base}`);
  // `+ 0` turns the -0 that rounding a small negative number gives into 0.
  return base * roundHalfEven(n / base) + 0;
}

/**
 * `null` for a count of `threshold` (7 by default) or less, the count itself
 * otherwise. A null is written as an empty cell; write "[REDACTED]" yourself
 * if the table needs to say why. Counts of 0 are suppressed too: that a group
 * is empty can be as telling as that it has 3.
 */
export function suppressSmallCounts(n: number, threshold: number = SUPPRESSION_THRESHOLD): number | null {
  checkCount(n, "suppressSmallCounts");
  return n <= threshold ? null : n;
}

/** Another name for suppressSmallCounts. */
export const redact = suppressSmallCounts;

/**
 * The rows with ehrQL's disclosure control applied to each named column, as
 * generate-measures applies it: counts of 7 or less become 0, then every count
 * is rounded to the nearest 5. Nulls (and undefined) stay as they are; any
 * other value that is not a whole number of 0 or more is an error naming the
 * row and column. The rows are copied, not changed.
 *
 * With arquero: `aq.from(disclosureControlColumns(table.objects(), ["numerator", "denominator"]))`.
 */
export function disclosureControlColumns<R extends Readonly<Record<string, unknown>>>(rows: readonly R[], columns: string | readonly string[]): R[] {
  const names = typeof columns === "string" ? [columns] : columns;
  return rows.map((row, i) => {
    const out: Record<string, unknown> = { ...row };
    for (const c of names) {
      const v = row[c];
      if (v === null || v === undefined) continue;
      const what = `row ${i + 1}, column ${JSON.stringify(c)}`;
      const n = typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      if (typeof n !== "number") throw new TypeError(`disclosure control applies to counts, but ${what} is ${JSON.stringify(String(v))}`);
      out[c] = applyDisclosureControl(n, what);
    }
    return out as R;
  });
}

/** Another name for disclosureControlColumns, for one column. */
export function disclosureControlColumn<R extends Readonly<Record<string, unknown>>>(rows: readonly R[], column: string): R[] {
  return disclosureControlColumns(rows, column);
}

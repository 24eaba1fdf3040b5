// Statistical disclosure control for analysis scripts (`import ... from
// "enclave/sdc"` in a node:v1 action): the small steps that make a table of
// counts safe to release from level 4, the same rules that generate-measures
// applies. A table's counts are small-number suppressed and rounded here before
// they are written; the output checkers look at what was written, not at how.
//
// The safe table builders (frequencyTable, crosstab, summaryByGroup, and
// writeSafeTable, in tables.ts) do all of it, secondary suppression included
// (suppression.ts), and write a declaration of the controls beside each table.
// They keep zeros (the checker allows them); suppressSmallCounts, older,
// suppresses them too.
//
// The ehrQL rule (applyDisclosureControl) is imported from the measures engine,
// so that a script and `enclave generate-measures` can never disagree on it.

import { ROUNDING_MULTIPLE, SUPPRESSION_THRESHOLD, applyDisclosureControl } from "../engines/measures.js";
import { checkCount } from "./suppression.js";

export { ROUNDING_MULTIPLE, SUPPRESSION_THRESHOLD, applyDisclosureControl };
export { roundToNearest, roundMidpoint6, isSmallCount, safeCount, publish, suppressOneWay, suppressTwoWay } from "./suppression.js";
export type { CellStatus, CountControls } from "./suppression.js";
export { frequencyTable, crosstab, summaryByGroup, writeSafeTable, toCSV, declarationProblems, DisclosureControlError } from "./tables.js";
export type { SafeTable, SafeValue, TableOptions, Statistic } from "./tables.js";
export { REDACTED, DECLARATION_SUFFIX } from "./declarations.js";
export type { TableDeclaration, ColumnDeclaration, CountColumn, CategoryColumn, StatisticColumn, Midpoint6Column, MagnitudeColumn, OtherColumn } from "./declarations.js";

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

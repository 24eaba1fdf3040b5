// A declaration says what disclosure controls a table file claims to follow,
// column by column, so that `enclave sdc check` can hold the file to them (a
// column declared "rounded to 5" that is not is a `declaration_mismatch`) and
// knows which columns are counts without guessing from their names.
//
// The safe table builders of enclave/sdc write one beside each table they
// write, as `<table file>.sdc.json`; `enclave sdc check --declarations FILE`
// reads a file holding one declaration or a list of them. A declaration's
// `file` is the table's path as given to the checker (or relative to the
// declaration's own folder).

/** A column of categories (the table's dimensions): never checked as a count. */
export interface CategoryColumn {
  readonly kind: "category";
}

/**
 * Counts of patients (or events): suppressed when `threshold` or less (0 is
 * allowed) and written as `[REDACTED]` (or empty), then rounded to a multiple
 * of `rounding` (null: not rounded). `totalOf`: this column is the row's sum of
 * those count columns (after suppression and rounding).
 */
export interface CountColumn {
  readonly kind: "count";
  readonly threshold: number;
  readonly rounding: number | null;
  readonly totalOf?: readonly string[];
}

/** Counts rounded by midpoint-6 (ceil(x / 6) * 6 - 3, and 0 for 0); the column's name ends in `_midpoint6`. */
export interface Midpoint6Column {
  readonly kind: "midpoint6";
}

/**
 * A statistic (a mean, a rate, a median) about the patients counted in
 * `countColumn` of the same row: it must be redacted wherever that count is.
 */
export interface StatisticColumn {
  readonly kind: "statistic";
  readonly countColumn: string;
}

/**
 * A sum of contributions (costs, doses) whose largest two contributions are
 * given in `top1` and `top2` of the same row, for the dominance rules.
 */
export interface MagnitudeColumn {
  readonly kind: "magnitude";
  readonly top1: string;
  readonly top2: string;
}

/** Information only (the largest contributions behind a magnitude column, notes): not checked. */
export interface OtherColumn {
  readonly kind: "other";
}

export type ColumnDeclaration = CategoryColumn | CountColumn | Midpoint6Column | StatisticColumn | MagnitudeColumn | OtherColumn;

export interface TableDeclaration {
  readonly version: 1;
  /** The table file. */
  readonly file: string;
  /** Who the counts are of, in words (for the checker and the ledger): "patients registered on 2024-03-31". */
  readonly population?: string;
  /** Every column of the table, by its name in the header. */
  readonly columns: Readonly<Record<string, ColumnDeclaration>>;
  /**
   * Rows that are totals: rows whose `column` holds `value` ("Total") are the
   * sums, count column by count column, of the rows that share their other
   * category values.
   */
  readonly totalRows?: { readonly column: string; readonly value: string };
}

/** The suffix of the declaration written beside a table. */
export const DECLARATION_SUFFIX = ".sdc.json";

/** How a suppressed cell is written. */
export const REDACTED = "[REDACTED]";

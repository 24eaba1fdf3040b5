// Dates as whole days since 1970-01-01 (as the query model counts them), with
// the fixed window the synthetic backend covers. Nothing depends on today's date.

import { civilFromDays, daysFromCivil, daysInMonth, formatIsoDate } from "../querymodel/types.js";

export type Day = number;

export function day(y: number, m: number, d: number): Day {
  return daysFromCivil(y, m, d);
}

/** The last day the synthetic backend holds data for. */
export const DATA_END: Day = day(2025, 12, 31);
/** Registrations, addresses and GP records mostly begin after this (SystmOne's era). */
export const RECORDS_START: Day = day(1990, 1, 1);
/** Deaths are recorded from this date (ONS linkage). */
export const DEATHS_FROM: Day = day(2010, 1, 1);

// Days from 1880 to 2040 as yyyymmdd integers and ISO strings, made once: dates
// are converted millions of times, and whole years between two days are the
// difference of their yyyymmdd values, divided by 10,000 and rounded down.
const TABLE_FROM = day(1880, 1, 1);
const TABLE_TO = day(2040, 12, 31);
const YMD = new Int32Array(TABLE_TO - TABLE_FROM + 1);
for (let d = TABLE_FROM; d <= TABLE_TO; d++) {
  const [y, m, dd] = civilFromDays(d);
  YMD[d - TABLE_FROM] = y * 10000 + m * 100 + dd;
}
const isoCache: (string | undefined)[] = new Array<string | undefined>(YMD.length).fill(undefined);

function ymd(d: Day): number {
  if (d >= TABLE_FROM && d <= TABLE_TO) return YMD[d - TABLE_FROM]!;
  const [y, m, dd] = civilFromDays(d);
  return y * 10000 + m * 100 + dd;
}

export function yearOf(d: Day): number {
  return Math.floor(ymd(d) / 10000);
}

/** The first of d's month. */
export function firstOfMonth(d: Day): Day {
  return d - ((ymd(d) % 100) - 1);
}

/** d plus n whole years, on the same day of the month (29 Feb becomes 1 Mar). */
export function addYears(d: Day, n: number): Day {
  const [y, m, dd] = civilFromDays(d);
  return dd > daysInMonth(y + n, m) ? day(y + n, m + 1, 1) : day(y + n, m, dd);
}

/** Whole years from a to b, as ehrQL counts an age. */
export function yearsBetween(a: Day, b: Day): number {
  return Math.floor((ymd(b) - ymd(a)) / 10000);
}

/** The ISO `YYYY-MM-DD` text of a day. */
export function iso(d: Day): string {
  if (d < TABLE_FROM || d > TABLE_TO) return formatIsoDate(d);
  const i = d - TABLE_FROM;
  return (isoCache[i] ??= formatIsoDate(d));
}

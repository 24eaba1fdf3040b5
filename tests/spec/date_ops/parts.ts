// year, month, day, toFirstOfYear, toFirstOfMonth.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const dates = { p: "patient | d1\n1 | 1990-01-02\n2 | 2000-03-04\n3 | 2020-12-31\n4 |" };

export const cases: SpecCase[] = [
  { name: "year", tables: dates, series: () => p.d1.year, expected: { 1: 1990, 2: 2000, 3: 2020, 4: null }, type: "int" },
  { name: "month", tables: dates, series: () => p.d1.month, expected: { 1: 1, 2: 3, 3: 12, 4: null }, type: "int" },
  { name: "day", tables: dates, series: () => p.d1.day, expected: { 1: 2, 2: 4, 3: 31, 4: null }, type: "int" },
  {
    name: "toFirstOfYear",
    tables: dates,
    series: () => p.d1.toFirstOfYear(),
    expected: { 1: "1990-01-01", 2: "2000-01-01", 3: "2020-01-01", 4: null },
    type: "date",
  },
  {
    name: "toFirstOfMonth",
    tables: dates,
    series: () => p.d1.toFirstOfMonth(),
    expected: { 1: "1990-01-01", 2: "2000-03-01", 3: "2020-12-01", 4: null },
    type: "date",
  },
  {
    name: "toFirstOfMonth of a first of month is itself",
    tables: { p: "patient | d1\n1 | 2021-02-01" },
    series: () => p.d1.toFirstOfMonth(),
    expected: { 1: "2021-02-01" },
  },
  {
    name: "the year of a value() date",
    tables: dates,
    series: () => value("2024-02-29").year,
    expected: { 1: 2024, 2: 2024, 3: 2024, 4: 2024 },
  },
  {
    name: "the month of an event date, then the largest",
    tables: { e: "patient | d1\n1 | 2020-03-15\n1 | 2019-11-01\n2 |" },
    series: () => e.d1.month.maximumForPatient(),
    expected: { 1: 11, 2: null },
  },
  {
    name: "the day of a leap day",
    tables: { p: "patient | d1\n1 | 2024-02-29" },
    series: () => p.d1.day,
    expected: { 1: 29 },
  },
  {
    name: "distinct years of events",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2020-12-31\n1 | 2021-06-01\n2 |" },
    series: () => e.d1.toFirstOfYear().countDistinctForPatient(),
    expected: { 1: 2, 2: 0 },
  },
];

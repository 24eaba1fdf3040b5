// maximumOf and minimumOf across series and literals, for each patient;
// NULLs are ignored, and all NULL gives NULL.

import { maximumOf, minimumOf } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const ints = { p: "patient | i1 | i2\n1 | 1 | 5\n2 | 7 | 5\n3 | | 5\n4 | |" };

export const cases: SpecCase[] = [
  { name: "maximumOf two int series", tables: ints, series: () => maximumOf(p.i1, p.i2), expected: { 1: 5, 2: 7, 3: 5, 4: null }, type: "int" },
  { name: "minimumOf two int series", tables: ints, series: () => minimumOf(p.i1, p.i2), expected: { 1: 1, 2: 5, 3: 5, 4: null }, type: "int" },
  { name: "maximumOf a series and a literal", tables: ints, series: () => maximumOf(p.i1, 3), expected: { 1: 3, 2: 7, 3: 3, 4: 3 } },
  { name: "minimumOf a literal and a series", tables: ints, series: () => minimumOf(3, p.i1), expected: { 1: 1, 2: 3, 3: 3, 4: 3 } },
  { name: "maximumOf three values", tables: ints, series: () => maximumOf(p.i1, p.i2, 6), expected: { 1: 6, 2: 7, 3: 6, 4: 6 } },
  { name: "maximumOf only literals", tables: ints, series: () => maximumOf(1, 3, 2), expected: { 1: 3, 2: 3, 3: 3, 4: 3 }, type: "int" },
  { name: "minimumOf only literals, fractional", tables: ints, series: () => minimumOf(1.5, 0.5), expected: { 1: 0.5, 2: 0.5, 3: 0.5, 4: 0.5 }, type: "float" },
  {
    name: "maximumOf float series with an integral literal",
    tables: { p: "patient | f1 | f2\n1 | 1.5 | 0.5\n2 | | -2.5" },
    series: () => maximumOf(p.f1, p.f2, 1),
    expected: { 1: 1.5, 2: 1 },
    type: "float",
  },
  {
    name: "minimumOf date series and an ISO date",
    tables: { p: "patient | d1 | d2\n1 | 2020-05-01 | 2021-01-01\n2 | | 2019-01-01\n3 | |" },
    series: () => minimumOf(p.d1, p.d2, "2020-01-01"),
    expected: { 1: "2020-01-01", 2: "2019-01-01", 3: "2020-01-01" },
    type: "date",
  },
  {
    name: "maximumOf two date series",
    tables: { p: "patient | d1 | d2\n1 | 2020-05-01 | 2021-01-01\n2 | 2020-05-01 |\n3 | |" },
    series: () => maximumOf(p.d1, p.d2),
    expected: { 1: "2021-01-01", 2: "2020-05-01", 3: null },
  },
  {
    name: "maximumOf str series",
    tables: { p: "patient | s1 | s2\n1 | apple | banana\n2 | B | a" },
    series: () => maximumOf(p.s1, p.s2),
    expected: { 1: "banana", 2: "a" },
  },
  {
    name: "maximumOf aggregates",
    tables: { p: "patient | i1\n1 | 4\n2 | 4", e: "patient | i1\n1 | 9\n1 | 1\n2 | 2" },
    series: () => maximumOf(e.i1.maximumForPatient(), p.i1),
    expected: { 1: 9, 2: 4 },
  },
  {
    name: "maximumOf on event series, row by row, then summed",
    tables: { e: "patient | i1 | i2\n1 | 1 | 5\n1 | 7 | 2\n1 | |\n2 | | 3" },
    series: () => maximumOf(e.i1, e.i2).sumForPatient(),
    expected: { 1: 12, 2: 3 },
  },
];

// isIn / isNotIn with arrays, codelists, categorised codelists and event series.
// The contract's rules: an empty set gives false even for a NULL left side;
// otherwise a NULL left side gives NULL; NULLs on the right are ignored.

import { codelistFromCsv } from "../../../src/language/index.js";
import { type SpecCase, codelistPath, e, p } from "../harness.js";

const ints = { p: "patient | i1\n1 | 1\n2 | 2\n3 |" };

// Patient 1: found. 2: not found, NULL on the right. 3: NULL left, non-empty set.
// 4: the set holds only NULL (empty). 5: NULL left, set only NULL (empty).
// 6: no event rows at all (empty).
const withSeries = {
  p: `
    patient | i1
    1       | 1
    2       | 2
    3       |
    4       | 4
    5       |
    6       | 6
  `,
  e: `
    patient | i1
    1       | 1
    1       | 5
    2       | 3
    2       |
    3       | 7
    4       |
    5       |
  `,
};

export const cases: SpecCase[] = [
  { name: "isIn an array of ints", tables: ints, series: () => p.i1.isIn([1, 3]), expected: { 1: true, 2: false, 3: null } },
  { name: "isNotIn an array of ints", tables: ints, series: () => p.i1.isNotIn([1, 3]), expected: { 1: false, 2: true, 3: null } },
  { name: "isIn an empty array is false, even for NULL", tables: ints, series: () => p.i1.isIn([]), expected: { 1: false, 2: false, 3: false } },
  { name: "isNotIn an empty array is true, even for NULL", tables: ints, series: () => p.i1.isNotIn([]), expected: { 1: true, 2: true, 3: true } },
  {
    name: "a NULL in the array is ignored",
    tables: ints,
    series: () => p.i1.isIn([1, null]),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "an array of only NULL counts as empty",
    tables: ints,
    series: () => p.i1.isIn([null]),
    expected: { 1: false, 2: false, 3: false },
  },
  {
    name: "isNotIn with a NULL in the array",
    tables: ints,
    series: () => p.i1.isNotIn([2, null]),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "isIn an array with one value",
    tables: ints,
    series: () => p.i1.isIn([2]),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "isIn an array of strings is case-sensitive",
    tables: { p: "patient | s1\n1 | a\n2 | A\n3 | b\n4 |" },
    series: () => p.s1.isIn(["a", "b"]),
    expected: { 1: true, 2: false, 3: true, 4: null },
  },
  {
    name: "isIn an array of dates",
    tables: { p: "patient | d1\n1 | 2020-01-01\n2 | 2020-01-02\n3 |" },
    series: () => p.d1.isIn(["2020-01-01", "2021-01-01"]),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "isIn an array of floats, integral literals adopting float",
    tables: { p: "patient | f1\n1 | 1.0\n2 | 1.5\n3 | 2.5" },
    series: () => p.f1.isIn([1, 2.5]),
    expected: { 1: true, 2: false, 3: true },
  },
  {
    name: "isIn an array of bools",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => p.b1.isIn([true]),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "isIn an event series: the patient's values, NULLs ignored, empty is false",
    tables: withSeries,
    series: () => p.i1.isIn(e.i1),
    expected: { 1: true, 2: false, 3: null, 4: false, 5: false, 6: false },
  },
  {
    name: "isNotIn an event series",
    tables: withSeries,
    series: () => p.i1.isNotIn(e.i1),
    expected: { 1: false, 2: true, 3: null, 4: true, 5: true, 6: true },
  },
  {
    name: "isIn a filtered event series",
    tables: {
      p: "patient | i1\n1 | 1\n2 | 2",
      e: "patient | i1 | b1\n1 | 1 | F\n1 | 2 | T\n2 | 2 | T",
    },
    series: () => p.i1.isIn(e.where(e.b1).i1),
    expected: { 1: false, 2: true },
  },
  {
    name: "an event series isIn another event series of the same table",
    tables: { e: "patient | i1 | i2\n1 | 1 | 2\n1 | 2 | 3\n1 | 5 |\n2 | 1 | 9\n3 | | 4" },
    series: () => e.where(e.i1.isIn(e.i2)).countForPatient(),
    expected: { 1: 1, 2: 0, 3: 0 },
  },
  {
    name: "event series isIn an array, then counted",
    tables: { e: "patient | i1\n1 | 1\n1 | 2\n1 | 3\n1 |\n2 | 4" },
    series: () => e.where(e.i1.isIn([1, 3])).countForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "event series isNotIn an array keeps no NULL rows",
    tables: { e: "patient | i1\n1 | 1\n1 | 2\n1 |\n2 | 4" },
    series: () => e.where(e.i1.isNotIn([1])).countForPatient(),
    expected: { 1: 1, 2: 1 },
  },
  {
    name: "isIn a codelist from a CSV file",
    tables: { p: "patient | c1\n1 | 123456\n2 | 345678\n3 | 999999\n4 |" },
    series: () => p.c1.isIn(codelistFromCsv(codelistPath("snomed.csv"), { column: "code" })),
    expected: { 1: true, 2: false, 3: true, 4: null },
  },
  {
    name: "isIn a categorised codelist tests its codes",
    tables: { p: "patient | c1\n1 | 234567\n2 | 345678\n3 | 1000000" },
    series: () => p.c1.isIn(codelistFromCsv(codelistPath("snomed.csv"), { column: "code", categoryColumn: "category" })),
    expected: { 1: true, 2: false, 3: true },
  },
  {
    name: "isIn two codelists combined with spread",
    tables: { p: "patient | c1\n1 | 123456\n2 | 345678\n3 | 456789" },
    series: () => p.c1.isIn([...codelistFromCsv(codelistPath("snomed.csv"), { column: "code" }), "345678"]),
    expected: { 1: true, 2: true, 3: false },
  },
  {
    name: "isNotIn a codelist",
    tables: { p: "patient | c1\n1 | 123456\n2 | 345678\n3 |" },
    series: () => p.c1.isNotIn(codelistFromCsv(codelistPath("snomed.csv"), { column: "code" })),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "a codelist isIn on an event code series, then exists",
    tables: { e: "patient | c1\n1 | 345678\n1 | 123456\n2 | 345678\n3 |" },
    series: () => e.where(e.c1.isIn(codelistFromCsv(codelistPath("snomed.csv"), { column: "code" }))).existsForPatient(),
    expected: { 1: true, 2: false, 3: false },
  },
  {
    name: "isIn a str event series: no rows gives false even for a NULL left side",
    tables: { p: "patient | s1\n1 |\n2 | x", e: "patient | s1\n2 | y" },
    series: () => p.s1.isIn(e.s1),
    expected: { 1: false, 2: false },
  },
  {
    name: "not of isIn keeps NULL as NULL",
    tables: ints,
    series: () => p.i1.isIn([1]).not(),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "isIn an array with duplicates",
    tables: ints,
    series: () => p.i1.isIn([2, 2, 2]),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "a relative codelist path is relative to the definition's folder",
    tables: { p: "patient | c1\n1 | 123456\n2 | 345678" },
    definitionDir: codelistPath("."),
    series: () => p.c1.isIn(codelistFromCsv("snomed.csv", { column: "code" })),
    expected: { 1: true, 2: false },
  },
  {
    name: "isIn a filtered series of the same table inside a where",
    tables: { e: "patient | i1 | i2 | b1\n1 | 1 | 2 | T\n1 | 2 | 1 | F\n1 | 3 | 3 | F" },
    series: () => e.where(e.i1.isIn(e.where(e.b1).i2)).i1.sumForPatient(),
    expected: { 1: 2 },
  },
];

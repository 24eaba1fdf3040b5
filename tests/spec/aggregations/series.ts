// Aggregations of event series. count, countDistinct and exists never give
// NULL; sum, mean, minimum and maximum of no non-NULL value give NULL.

import { type SpecCase, e, p } from "../harness.js";

// Patient 1: values; 2: only NULLs; 3: no event rows (only in p).
const ints = {
  p: "patient | i1\n3 | 1",
  e: `
    patient | i1 | f1   | d1         | s1
    1       | 1  | 1.5  | 2020-01-05 | b
    1       | 3  | 2.25 | 2019-12-31 | a
    1       | 3  |      | 2021-01-01 | c
    1       |    | 0.25 |            |
    2       |    |      |            |
  `,
};

export const cases: SpecCase[] = [
  { name: "countForPatient on a series counts non-NULL values", tables: ints, series: () => e.i1.countForPatient(), expected: { 1: 3, 2: 0, 3: 0 }, type: "int" },
  { name: "existsForPatient on a series: any non-NULL value", tables: ints, series: () => e.i1.existsForPatient(), expected: { 1: true, 2: false, 3: false }, type: "bool" },
  { name: "countDistinctForPatient ignores NULL", tables: ints, series: () => e.i1.countDistinctForPatient(), expected: { 1: 2, 2: 0, 3: 0 }, type: "int" },
  { name: "sumForPatient on ints", tables: ints, series: () => e.i1.sumForPatient(), expected: { 1: 7, 2: null, 3: null }, type: "int" },
  { name: "sumForPatient on floats", tables: ints, series: () => e.f1.sumForPatient(), expected: { 1: 4, 2: null, 3: null }, type: "float" },
  { name: "meanForPatient on ints is a float, NULLs ignored", tables: ints, series: () => e.i1.meanForPatient(), expected: { 1: 7 / 3, 2: null, 3: null }, type: "float" },
  { name: "meanForPatient on floats", tables: ints, series: () => e.f1.meanForPatient(), expected: { 1: 4 / 3, 2: null, 3: null }, type: "float" },
  { name: "minimumForPatient on ints", tables: ints, series: () => e.i1.minimumForPatient(), expected: { 1: 1, 2: null, 3: null }, type: "int" },
  { name: "maximumForPatient on ints", tables: ints, series: () => e.i1.maximumForPatient(), expected: { 1: 3, 2: null, 3: null }, type: "int" },
  { name: "minimumForPatient on floats", tables: ints, series: () => e.f1.minimumForPatient(), expected: { 1: 0.25, 2: null, 3: null }, type: "float" },
  { name: "maximumForPatient on floats", tables: ints, series: () => e.f1.maximumForPatient(), expected: { 1: 2.25, 2: null, 3: null } },
  { name: "minimumForPatient on dates", tables: ints, series: () => e.d1.minimumForPatient(), expected: { 1: "2019-12-31", 2: null, 3: null }, type: "date" },
  { name: "maximumForPatient on dates", tables: ints, series: () => e.d1.maximumForPatient(), expected: { 1: "2021-01-01", 2: null, 3: null } },
  { name: "minimumForPatient on strings", tables: ints, series: () => e.s1.minimumForPatient(), expected: { 1: "a", 2: null, 3: null }, type: "str" },
  { name: "maximumForPatient on strings", tables: ints, series: () => e.s1.maximumForPatient(), expected: { 1: "c", 2: null, 3: null } },
  { name: "countDistinctForPatient on dates", tables: ints, series: () => e.d1.countDistinctForPatient(), expected: { 1: 3, 2: 0, 3: 0 } },
  {
    name: "countDistinctForPatient on strings is case-sensitive",
    tables: { e: "patient | s1\n1 | a\n1 | A\n1 | a" },
    series: () => e.s1.countDistinctForPatient(),
    expected: { 1: 2 },
  },
  {
    name: "countForPatient on a bool series counts false too",
    tables: { e: "patient | b1\n1 | T\n1 | F\n1 |\n2 | F" },
    series: () => e.b1.countForPatient(),
    expected: { 1: 2, 2: 1 },
  },
  {
    name: "sum of negative and positive values to zero is 0, not NULL",
    tables: { e: "patient | i1\n1 | 5\n1 | -5" },
    series: () => e.i1.sumForPatient(),
    expected: { 1: 0 },
  },
  {
    name: "an aggregate of a filtered series",
    tables: { e: "patient | i1 | b1\n1 | 1 | T\n1 | 10 | F\n1 | 100 | T\n2 | 5 | F" },
    series: () => e.where(e.b1).i1.sumForPatient(),
    expected: { 1: 101, 2: null },
  },
  {
    name: "an aggregate combined with a patient series",
    tables: { p: "patient | i1\n1 | 100\n2 | 100", e: "patient | i1\n1 | 1\n1 | 2" },
    series: () => e.i1.sumForPatient().add(p.i1),
    expected: { 1: 103, 2: null },
  },
  {
    name: "an aggregate of an expression",
    tables: { e: "patient | i1 | i2\n1 | 1 | 2\n1 | 3 | 4\n2 | 5 |" },
    series: () => e.i1.mul(e.i2).maximumForPatient(),
    expected: { 1: 12, 2: null },
  },
  {
    name: "countDistinctForPatient on floats",
    tables: { e: "patient | f1\n1 | 1.5\n1 | 1.5\n1 | 2.0" },
    series: () => e.f1.countDistinctForPatient(),
    expected: { 1: 2 },
  },
  {
    name: "countDistinctForPatient on bools",
    tables: { e: "patient | b1\n1 | T\n1 | F\n1 | T\n1 |\n2 | T" },
    series: () => e.b1.countDistinctForPatient(),
    expected: { 1: 2, 2: 1 },
  },
  {
    name: "meanForPatient of one value",
    tables: { e: "patient | i1\n1 | 3" },
    series: () => e.i1.meanForPatient(),
    expected: { 1: 3 },
    type: "float",
  },
  {
    name: "existsForPatient on a series of a filtered frame",
    tables: { e: "patient | i1 | b1\n1 | | T\n1 | 5 | F\n2 | 1 | T" },
    series: () => e.where(e.b1).i1.existsForPatient(),
    expected: { 1: false, 2: true },
  },
];

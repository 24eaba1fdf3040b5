// eq/ne/lt/le/gt/ge: every comparison with NULL on either side is NULL.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const ints = {
  p: `
    patient | i1 | i2
    1       | 1  | 2
    2       | 2  | 2
    3       | 3  | 2
    4       |    | 2
    5       | 1  |
    6       |    |
  `,
};

export const cases: SpecCase[] = [
  { name: "eq on two int series", tables: ints, series: () => p.i1.eq(p.i2), expected: { 1: false, 2: true, 3: false, 4: null, 5: null, 6: null } },
  { name: "ne on two int series", tables: ints, series: () => p.i1.ne(p.i2), expected: { 1: true, 2: false, 3: true, 4: null, 5: null, 6: null } },
  { name: "lt on two int series", tables: ints, series: () => p.i1.lt(p.i2), expected: { 1: true, 2: false, 3: false, 4: null, 5: null, 6: null } },
  { name: "le on two int series", tables: ints, series: () => p.i1.le(p.i2), expected: { 1: true, 2: true, 3: false, 4: null, 5: null, 6: null } },
  { name: "gt on two int series", tables: ints, series: () => p.i1.gt(p.i2), expected: { 1: false, 2: false, 3: true, 4: null, 5: null, 6: null } },
  { name: "ge on two int series", tables: ints, series: () => p.i1.ge(p.i2), expected: { 1: false, 2: true, 3: true, 4: null, 5: null, 6: null } },
  {
    name: "NULL is not equal to NULL: the answer is NULL",
    tables: { p: "patient | i1 | i2\n1 | | \n2 | 5 | 5" },
    series: () => p.i1.eq(p.i2),
    expected: { 1: null, 2: true },
  },
  { name: "eq with an int literal", tables: ints, series: () => p.i1.eq(2), expected: { 1: false, 2: true, 3: false, 4: null, 5: false, 6: null } },
  { name: "lt with an int literal", tables: ints, series: () => p.i1.lt(2), expected: { 1: true, 2: false, 3: false, 4: null, 5: true, 6: null } },
  { name: "ge with an int literal", tables: ints, series: () => p.i1.ge(2), expected: { 1: false, 2: true, 3: true, 4: null, 5: false, 6: null } },
  {
    name: "a value() on the left compares with a series",
    tables: ints,
    series: () => value(2).lt(p.i1),
    expected: { 1: false, 2: false, 3: true, 4: null, 5: false, 6: null },
  },
  {
    name: "eq on bool series",
    tables: { p: "patient | b1 | b2\n1 | T | T\n2 | T | F\n3 | F | F\n4 | | F" },
    series: () => p.b1.eq(p.b2),
    expected: { 1: true, 2: false, 3: true, 4: null },
  },
  {
    name: "ne with a bool literal",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => p.b1.ne(true),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "eq on float series with an integral literal",
    tables: { p: "patient | f1\n1 | 1.0\n2 | 1.5\n3 |" },
    series: () => p.f1.eq(1),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "gt on float series",
    tables: { p: "patient | f1 | f2\n1 | 1.5 | 1.25\n2 | 1.25 | 1.5\n3 | 2.0 |" },
    series: () => p.f1.gt(p.f2),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "le on date series",
    tables: { p: "patient | d1 | d2\n1 | 2020-01-01 | 2020-01-02\n2 | 2020-01-02 | 2020-01-02\n3 | 2020-01-03 | 2020-01-02\n4 | | 2020-01-01" },
    series: () => p.d1.le(p.d2),
    expected: { 1: true, 2: true, 3: false, 4: null },
  },
  {
    name: "eq on a date series with an ISO date string",
    tables: { p: "patient | d1\n1 | 2020-02-29\n2 | 2020-03-01\n3 |" },
    series: () => p.d1.eq("2020-02-29"),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "event series compared row by row, then counted",
    tables: { e: "patient | i1 | i2\n1 | 1 | 2\n1 | 3 | 2\n1 | 2 | 2\n1 | | 2\n2 | 5 | 1" },
    series: () => e.where(e.i1.gt(e.i2)).countForPatient(),
    expected: { 1: 1, 2: 1 },
  },
  {
    name: "an event series compared with a patient series applies to each row",
    tables: {
      p: "patient | i1\n1 | 2\n2 |",
      e: "patient | i1\n1 | 1\n1 | 2\n1 | 3\n2 | 1",
    },
    series: () => e.where(e.i1.ge(p.i1)).countForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "a value() integral literal adopts a float series' type",
    tables: { p: "patient | f1\n1 | 0.5\n2 | 1.5" },
    series: () => value(1).lt(p.f1),
    expected: { 1: false, 2: true },
  },
  {
    name: "eq of a series with itself is NULL for NULL",
    tables: { p: "patient | s1\n1 | a\n2 |" },
    series: () => p.s1.eq(p.s1),
    expected: { 1: true, 2: null },
  },
];

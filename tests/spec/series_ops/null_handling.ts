// isNull, isNotNull and whenNullThen: the only ways to ask about NULL.

import { type SpecCase, e, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "isNull on an int series",
    tables: { p: "patient | i1\n1 | 0\n2 |" },
    series: () => p.i1.isNull(),
    expected: { 1: false, 2: true },
  },
  {
    name: "isNotNull on a str series (the empty string is not NULL)",
    tables: { p: 'patient | s1\n1 | a\n2 | ""\n3 |' },
    series: () => p.s1.isNotNull(),
    expected: { 1: true, 2: true, 3: false },
  },
  {
    name: "isNull on a bool series: false is a value",
    tables: { p: "patient | b1\n1 | F\n2 |" },
    series: () => p.b1.isNull(),
    expected: { 1: false, 2: true },
  },
  {
    name: "isNull on a date series",
    tables: { p: "patient | d1\n1 | 2020-01-01\n2 |" },
    series: () => p.d1.isNull(),
    expected: { 1: false, 2: true },
  },
  {
    name: "isNull on a patient with no row in the patient table",
    tables: { p: "patient | i1\n1 | 1", e: "patient | i1\n2 | 5" },
    series: () => p.i1.isNull(),
    expected: { 1: false, 2: true },
  },
  {
    name: "isNull on an event series, then counted",
    tables: { e: "patient | i1\n1 | 1\n1 |\n1 |\n2 | 3" },
    series: () => e.where(e.i1.isNull()).countForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "whenNullThen with an int literal",
    tables: { p: "patient | i1\n1 | 5\n2 |" },
    series: () => p.i1.whenNullThen(0),
    expected: { 1: 5, 2: 0 },
    type: "int",
  },
  {
    name: "whenNullThen with another series, itself NULL sometimes",
    tables: { p: "patient | i1 | i2\n1 | 1 | 2\n2 | | 2\n3 | |" },
    series: () => p.i1.whenNullThen(p.i2),
    expected: { 1: 1, 2: 2, 3: null },
  },
  {
    name: "whenNullThen on a str series",
    tables: { p: "patient | s1\n1 | x\n2 |" },
    series: () => p.s1.whenNullThen("missing"),
    expected: { 1: "x", 2: "missing" },
  },
  {
    name: "whenNullThen on a date series with an ISO date",
    tables: { p: "patient | d1\n1 | 2021-05-06\n2 |" },
    series: () => p.d1.whenNullThen("1900-01-01"),
    expected: { 1: "2021-05-06", 2: "1900-01-01" },
  },
  {
    name: "whenNullThen on a bool series",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => p.b1.whenNullThen(false),
    expected: { 1: true, 2: false, 3: false },
  },
  {
    name: "whenNullThen on a float series with an integral literal",
    tables: { p: "patient | f1\n1 | 2.5\n2 |" },
    series: () => p.f1.whenNullThen(0),
    expected: { 1: 2.5, 2: 0 },
    type: "float",
  },
  {
    name: "whenNullThen on an aggregate of nothing",
    tables: { p: "patient | i1\n1 | 1", e: "patient | i1\n2 | 4\n2 | 5" },
    series: () => e.i1.sumForPatient().whenNullThen(0),
    expected: { 1: 0, 2: 9 },
  },
  {
    name: "whenNullThen on an event series, then counted: every row has a value",
    tables: { e: "patient | i1\n1 | 1\n1 |\n1 |\n2 |" },
    series: () => e.i1.whenNullThen(0).countForPatient(),
    expected: { 1: 3, 2: 1 },
  },
  {
    name: "isNotNull of a comparison with NULL",
    tables: { p: "patient | i1\n1 | 1\n2 |" },
    series: () => p.i1.gt(0).isNotNull(),
    expected: { 1: true, 2: false },
  },
];

// Rows equal on every sort key are ordered by the picked row's columns that
// the definition selects, ascending, in column-name order (NULL first), so
// every engine picks the same row.

import { type SpecCase, e } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "a tie broken by the one selected column",
    tables: {
      e: `
        patient | i1  | i2 | s1
        1       | 100 | 2  | 101
        1       | 100 | 1  | 103
        1       | 100 | 1  | 102
        2       | 100 | 0  | 500
        2       | 100 | 1  | 1
        2       | 101 | 0  | 1
      `,
    },
    series: () => e.sortBy(e.i1, e.i2).firstForPatient().s1,
    expected: { 1: "102", 2: "500" },
  },
  {
    name: "a tie broken by the selected column: first takes the smallest",
    tables: { e: "patient | i1 | s1\n1 | 1 | b\n1 | 1 | a\n1 | 1 | c\n1 | 2 | 0" },
    series: () => e.sortBy(e.i1).firstForPatient().s1,
    expected: { 1: "a" },
  },
  {
    name: "a tie broken by the selected column: last takes the largest",
    tables: { e: "patient | i1 | s1\n1 | 1 | b\n1 | 1 | c\n1 | 1 | a\n1 | 0 | z" },
    series: () => e.sortBy(e.i1).lastForPatient().s1,
    expected: { 1: "c" },
  },
  {
    name: "NULL first among tied rows",
    tables: { e: "patient | i1 | s1\n1 | 1 | a\n1 | 1 |\n2 | 1 | b\n2 | 1 |" },
    series: () => e.sortBy(e.i1).firstForPatient().s1,
    expected: { 1: null, 2: null },
  },
  {
    name: "NULL first among tied rows, so last is a value",
    tables: { e: "patient | i1 | s1\n1 | 1 | a\n1 | 1 |" },
    series: () => e.sortBy(e.i1).lastForPatient().s1,
    expected: { 1: "a" },
  },
  {
    name: "two selected columns: ties broken by the first in name order (d1 before i2)",
    tables: {
      e: `
        patient | i1 | d1         | i2
        1       | 1  | 2020-01-01 | 5
        1       | 1  | 2019-01-01 | 9
        2       | 1  | 2019-01-01 | 9
        2       | 1  | 2019-01-01 | 4
      `,
    },
    series: () => {
      const first = e.sortBy(e.i1).firstForPatient();
      return first.d1.year.add(first.i2);
    },
    expected: { 1: 2028, 2: 2023 },
  },
  {
    name: "two selected columns, last: the largest in name order",
    tables: {
      e: `
        patient | i1 | d1         | i2
        1       | 1  | 2020-01-01 | 5
        1       | 1  | 2019-01-01 | 9
        2       | 1  | 2019-01-01 | 9
        2       | 1  | 2019-01-01 | 4
      `,
    },
    series: () => {
      const last = e.sortBy(e.i1).lastForPatient();
      return last.d1.year.add(last.i2);
    },
    expected: { 1: 2025, 2: 2028 },
  },
  {
    name: "a selected column that is also the sort key breaks nothing: the next selected one does",
    tables: { e: "patient | i1 | b1\n1 | 7 | T\n1 | 7 | F" },
    series: () => {
      const first = e.sortBy(e.i1).firstForPatient();
      return first.i1.add(first.b1.asInt());
    },
    expected: { 1: 7 },
  },
  {
    name: "name order, not the order the columns were used in (f1 before s2)",
    tables: { e: "patient | i1 | s2 | f1\n1 | 0 | a | 2.5\n1 | 0 | b | 1.5" },
    series: () => {
      const first = e.sortBy(e.i1).firstForPatient();
      return first.f1.mul(10).add(first.s2.eq("b").asInt().asFloat());
    },
    expected: { 1: 16 },
  },
  {
    name: "a column selected only by the population also breaks ties",
    tables: { e: "patient | i1 | i2 | s1\n1 | 0 | 2 | a\n1 | 0 | 1 | b" },
    population: () => e.sortBy(e.i1).firstForPatient().i2.isNotNull(),
    series: () => e.sortBy(e.i1).firstForPatient().s1,
    expected: { 1: "b" },
  },
];

// sortBy then firstForPatient / lastForPatient. NULL sorts first; the first
// key is the most significant.

import { type SpecCase, e, p } from "../harness.js";

const events = {
  e: `
    patient | i1 | i2 | s1 | d1
    1       | 2  | 1  | b  | 2020-01-02
    1       | 1  | 2  | a  | 2020-01-03
    1       | 3  | 0  | c  | 2020-01-01
    2       | 5  | 1  | x  |
    2       |    | 9  | y  | 2020-06-01
  `,
  p: "patient | i1\n3 | 0",
};

export const cases: SpecCase[] = [
  { name: "first by an int column", tables: events, series: () => e.sortBy(e.i2).firstForPatient().s1, expected: { 1: "c", 2: "x", 3: null } },
  { name: "last by an int column", tables: events, series: () => e.sortBy(e.i2).lastForPatient().s1, expected: { 1: "a", 2: "y", 3: null } },
  { name: "NULL sorts first", tables: events, series: () => e.sortBy(e.i1).firstForPatient().s1, expected: { 1: "a", 2: "y", 3: null } },
  { name: "NULL is never last when there are values", tables: events, series: () => e.sortBy(e.i1).lastForPatient().i1, expected: { 1: 3, 2: 5, 3: null } },
  { name: "a NULL date sorts first", tables: events, series: () => e.sortBy(e.d1).firstForPatient().s1, expected: { 1: "c", 2: "x", 3: null } },
  { name: "last by a date", tables: events, series: () => e.sortBy(e.d1).lastForPatient().i1, expected: { 1: 1, 2: null, 3: null } },
  { name: "first by a str column", tables: events, series: () => e.sortBy(e.s1).firstForPatient().d1, expected: { 1: "2020-01-03", 2: null, 3: null } },
  {
    name: "sorted by an expression",
    tables: events,
    series: () => e.sortBy(e.i2.neg()).firstForPatient().s1,
    expected: { 1: "a", 2: "y", 3: null },
  },
  {
    name: "first by a float column",
    tables: { e: "patient | f1 | s1\n1 | 2.5 | a\n1 | -1.5 | b\n1 | 0.0 | c" },
    series: () => e.sortBy(e.f1).firstForPatient().s1,
    expected: { 1: "b" },
  },
  {
    name: "first by a bool column: false before true, NULL before both",
    tables: { e: "patient | b1 | s1\n1 | T | a\n1 | F | b\n2 | T | c\n2 | | d" },
    series: () => e.sortBy(e.b1).firstForPatient().s1,
    expected: { 1: "b", 2: "d" },
  },
  {
    name: "several keys: the first most significant",
    tables: {
      e: `
        patient | i1 | i2 | s1
        1       | 1  | 2  | a
        1       | 1  | 1  | b
        1       | 0  | 5  | c
        2       | 1  | 2  | d
        2       | 1  | 3  | e
      `,
    },
    series: () => e.sortBy(e.i1, e.i2).lastForPatient().s1,
    expected: { 1: "a", 2: "e" },
  },
  {
    name: "several keys, first: ties on the first key broken by the second",
    tables: { e: "patient | i1 | i2 | s1\n1 | 1 | 2 | a\n1 | 1 | 1 | b\n1 | 2 | 0 | c" },
    series: () => e.sortBy(e.i1, e.i2).firstForPatient().s1,
    expected: { 1: "b" },
  },
  {
    name: "NULL first in the second key",
    tables: { e: "patient | i1 | i2 | s1\n1 | 1 | 2 | a\n1 | 1 | | b\n1 | 0 | 9 | c" },
    series: () => e.sortBy(e.i1, e.i2).lastForPatient().s1,
    expected: { 1: "a" },
  },
  {
    name: "where before sortBy",
    tables: events,
    series: () => e.where(e.i1.isNotNull()).sortBy(e.i1).firstForPatient().s1,
    expected: { 1: "a", 2: "x", 3: null },
  },
  {
    name: "where after sortBy keeps the order",
    tables: events,
    series: () => e.sortBy(e.i1).where(e.i1.gt(1)).firstForPatient().s1,
    expected: { 1: "b", 2: "x", 3: null },
  },
  {
    name: "sortBy a column of a filtered frame",
    tables: events,
    series: () => {
      const f = e.where(e.i2.lt(5));
      return f.sortBy(f.d1).lastForPatient().s1;
    },
    expected: { 1: "a", 2: "x", 3: null },
  },
  {
    name: "the picked row has existsForPatient",
    tables: events,
    series: () => e.where(e.i1.gt(2)).sortBy(e.i1).firstForPatient().existsForPatient(),
    expected: { 1: true, 2: true, 3: false },
  },
  {
    name: "the picked row's existsForPatient with no rows after the filter",
    tables: events,
    series: () => e.where(e.i1.gt(4)).sortBy(e.i1).lastForPatient().existsForPatient(),
    expected: { 1: false, 2: true, 3: false },
  },
  {
    name: "columns of the picked row combine like any patient series",
    tables: events,
    series: () => {
      const first = e.sortBy(e.d1).firstForPatient();
      return first.i1.add(first.i2);
    },
    expected: { 1: 3, 2: 6, 3: null },
  },
  {
    name: "a picked row's column compared with a patient table's column",
    tables: { p: "patient | i1\n1 | 2\n2 | 2", e: "patient | i1 | d1\n1 | 2 | 2020-01-01\n2 | 3 | 2020-01-01" },
    series: () => e.sortBy(e.d1).lastForPatient().i1.eq(p.i1),
    expected: { 1: true, 2: false },
  },
  {
    name: "the first and the last row of the same sort together",
    tables: { e: "patient | i1 | d1\n1 | 10 | 2020-01-01\n1 | 20 | 2020-02-01\n1 | 30 | 2020-03-01" },
    series: () => {
      const sorted = e.sortBy(e.d1);
      return sorted.lastForPatient().i1.sub(sorted.firstForPatient().i1);
    },
    expected: { 1: 20 },
  },
  {
    name: "a column of a picked row when the filter left no rows is NULL",
    tables: events,
    series: () => e.where(e.i1.gt(4)).sortBy(e.i1).firstForPatient().s1,
    expected: { 1: null, 2: "x", 3: null },
  },
  {
    name: "all sort keys NULL: the selected column decides",
    tables: { e: "patient | i1 | s1\n1 | | b\n1 | | a" },
    series: () => e.sortBy(e.i1).lastForPatient().s1,
    expected: { 1: "b" },
  },
  {
    name: "upper case sorts before lower case",
    tables: { e: "patient | s1 | i1\n1 | a | 1\n1 | B | 2" },
    series: () => e.sortBy(e.s1).firstForPatient().i1,
    expected: { 1: 2 },
  },
  {
    name: "events after the patient's first event",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2020-02-01\n1 | 2020-03-01\n2 | 2020-01-01" },
    series: () => e.where(e.d1.isAfter(e.sortBy(e.d1).firstForPatient().d1)).countForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "sorted by the distance to a patient's value",
    tables: { p: "patient | i1\n1 | 10", e: "patient | i1 | s1\n1 | 2 | far\n1 | 12 | near\n1 | 30 | farther" },
    series: () => e.sortBy(e.i1.sub(p.i1).abs()).firstForPatient().s1,
    expected: { 1: "near" },
  },
  {
    name: "counting the rows of a sorted frame",
    tables: events,
    series: () => e.sortBy(e.i1).countForPatient(),
    expected: { 1: 3, 2: 2, 3: 0 },
  },
  {
    name: "picks from two differently filtered frames combined",
    tables: { e: "patient | i1 | b1 | d1\n1 | 1 | T | 2020-01-01\n1 | 10 | F | 2020-02-01\n1 | 100 | T | 2020-03-01" },
    series: () => e.where(e.b1).sortBy(e.d1).lastForPatient().i1.add(e.exceptWhere(e.b1).sortBy(e.d1).firstForPatient().i1),
    expected: { 1: 110 },
  },
  {
    name: "whenNullThen on a picked column when there is no row",
    tables: events,
    series: () => e.sortBy(e.d1).firstForPatient().i2.whenNullThen(-1),
    expected: { 1: 0, 2: 1, 3: -1 },
  },
];

// where keeps the rows whose condition is true (NULL is dropped); exceptWhere
// drops the rows whose condition is true (NULL is kept). A condition may come
// from the unfiltered table or be patient-level.

import { when } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const events = {
  e: `
    patient | i1 | b1
    1       | 1  | T
    1       | 2  | F
    1       | 4  |
    2       | 8  | F
    3       | 16 | T
  `,
};

export const cases: SpecCase[] = [
  { name: "where keeps true rows, drops false and NULL", tables: events, series: () => e.where(e.b1).i1.sumForPatient(), expected: { 1: 1, 2: null, 3: 16 } },
  { name: "exceptWhere drops true rows, keeps false and NULL", tables: events, series: () => e.exceptWhere(e.b1).i1.sumForPatient(), expected: { 1: 6, 2: 8, 3: null } },
  { name: "where with a comparison", tables: events, series: () => e.where(e.i1.ge(2)).countForPatient(), expected: { 1: 2, 2: 1, 3: 1 } },
  { name: "exceptWhere with a comparison", tables: events, series: () => e.exceptWhere(e.i1.ge(2)).countForPatient(), expected: { 1: 1, 2: 0, 3: 0 } },
  {
    name: "exceptWhere keeps rows where a comparison is NULL",
    tables: { e: "patient | i1\n1 | 1\n1 | 5\n1 |" },
    series: () => e.exceptWhere(e.i1.gt(2)).countForPatient(),
    expected: { 1: 2 },
  },
  { name: "where(true) keeps every row", tables: events, series: () => e.where(true).countForPatient(), expected: { 1: 3, 2: 1, 3: 1 } },
  { name: "where(false) keeps no row", tables: events, series: () => e.where(false).countForPatient(), expected: { 1: 0, 2: 0, 3: 0 } },
  { name: "exceptWhere(false) keeps every row", tables: events, series: () => e.exceptWhere(false).countForPatient(), expected: { 1: 3, 2: 1, 3: 1 } },
  {
    name: "chained where: both conditions, the second from the unfiltered table",
    tables: events,
    series: () => e.where(e.i1.gt(1)).where(e.b1.not()).i1.sumForPatient(),
    expected: { 1: 2, 2: 8, 3: null },
  },
  {
    name: "where then exceptWhere",
    tables: events,
    series: () => e.where(e.i1.lt(10)).exceptWhere(e.b1).countForPatient(),
    expected: { 1: 2, 2: 1, 3: 0 },
  },
  {
    name: "a column of the filtered frame in the second condition",
    tables: events,
    series: () => {
      const small = e.where(e.i1.lt(10));
      return small.where(small.i1.gt(1)).countForPatient();
    },
    expected: { 1: 2, 2: 1, 3: 0 },
  },
  {
    name: "a patient-level condition applies to each of the patient's rows",
    tables: {
      p: "patient | b1\n1 | T\n2 | F\n3 |",
      e: "patient | i1\n1 | 1\n1 | 2\n2 | 3\n3 | 4",
    },
    series: () => e.where(p.b1).countForPatient(),
    expected: { 1: 2, 2: 0, 3: 0 },
  },
  {
    name: "a condition mixing event and patient series",
    tables: {
      p: "patient | i1\n1 | 2\n2 |",
      e: "patient | i1\n1 | 1\n1 | 2\n1 | 3\n2 | 1",
    },
    series: () => e.where(e.i1.gt(p.i1)).i1.sumForPatient(),
    expected: { 1: 3, 2: null },
  },
  {
    name: "a condition on an aggregate of the same table",
    tables: { e: "patient | i1\n1 | 1\n1 | 5\n1 | 9\n2 | 4" },
    series: () => e.where(e.i1.gt(e.i1.meanForPatient().asInt())).countForPatient(),
    expected: { 1: 1, 2: 0 },
  },
  {
    name: "columns of a filtered frame are series like any other",
    tables: { e: "patient | i1 | d1\n1 | 1 | 2020-01-01\n1 | 2 | 2021-01-01\n1 | 3 |" },
    series: () => e.where(e.i1.ge(2)).d1.maximumForPatient(),
    expected: { 1: "2021-01-01" },
  },
  {
    name: "a filter that keeps no row of a patient gives the aggregate of nothing",
    tables: { e: "patient | i1\n1 | 1\n2 | 9" },
    series: () => e.where(e.i1.gt(5)).i1.minimumForPatient(),
    expected: { 1: null, 2: 9 },
  },
  {
    name: "where with an isIn condition",
    tables: events,
    series: () => e.where(e.i1.isIn([1, 8])).countForPatient(),
    expected: { 1: 1, 2: 1, 3: 0 },
  },
  {
    name: "a patient-level condition on an already filtered frame",
    tables: {
      p: "patient | b1\n1 | T\n2 | F",
      e: "patient | i1\n1 | 1\n1 | 5\n2 | 5",
    },
    series: () => e.where(e.i1.gt(2)).where(p.b1).countForPatient(),
    expected: { 1: 1, 2: 0 },
  },
  {
    name: "a case expression as the condition: NULL drops the row",
    tables: { e: "patient | i1 | b1\n1 | 1 | T\n1 | 2 | F\n1 | 3 |" },
    series: () => e.where(when(e.i1.lt(3)).then(e.b1).otherwise(null)).countForPatient(),
    expected: { 1: 1 },
  },
];

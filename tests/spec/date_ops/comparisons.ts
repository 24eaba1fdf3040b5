// isBefore, isOnOrBefore, isAfter, isOnOrAfter, isBetweenButNotOn,
// isOnOrBetween and isDuring, with ISO strings and with date series.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const around = { p: "patient | d1\n1 | 2019-12-31\n2 | 2020-01-01\n3 | 2020-01-02\n4 |" };
const year = { p: "patient | d1\n1 | 2019-12-31\n2 | 2020-01-01\n3 | 2020-06-15\n4 | 2020-12-31\n5 | 2021-01-01\n6 |" };

export const cases: SpecCase[] = [
  { name: "isBefore", tables: around, series: () => p.d1.isBefore("2020-01-01"), expected: { 1: true, 2: false, 3: false, 4: null } },
  { name: "isOnOrBefore", tables: around, series: () => p.d1.isOnOrBefore("2020-01-01"), expected: { 1: true, 2: true, 3: false, 4: null } },
  { name: "isAfter", tables: around, series: () => p.d1.isAfter("2020-01-01"), expected: { 1: false, 2: false, 3: true, 4: null } },
  { name: "isOnOrAfter", tables: around, series: () => p.d1.isOnOrAfter("2020-01-01"), expected: { 1: false, 2: true, 3: true, 4: null } },
  {
    name: "isBetweenButNotOn excludes both ends",
    tables: year,
    series: () => p.d1.isBetweenButNotOn("2020-01-01", "2020-12-31"),
    expected: { 1: false, 2: false, 3: true, 4: false, 5: false, 6: null },
  },
  {
    name: "isOnOrBetween includes both ends",
    tables: year,
    series: () => p.d1.isOnOrBetween("2020-01-01", "2020-12-31"),
    expected: { 1: false, 2: true, 3: true, 4: true, 5: false, 6: null },
  },
  {
    name: "isDuring([start, end]) includes both ends",
    tables: year,
    series: () => p.d1.isDuring(["2020-01-01", "2020-12-31"]),
    expected: { 1: false, 2: true, 3: true, 4: true, 5: false, 6: null },
  },
  {
    name: "isOnOrBetween with the bounds the wrong way round is false",
    tables: year,
    series: () => p.d1.isOnOrBetween("2020-12-31", "2020-01-01"),
    expected: { 1: false, 2: false, 3: false, 4: false, 5: false, 6: null },
  },
  {
    name: "isBefore another date series",
    tables: { p: "patient | d1 | d2\n1 | 2020-01-01 | 2020-01-02\n2 | 2020-01-02 | 2020-01-02\n3 | 2020-01-01 |" },
    series: () => p.d1.isBefore(p.d2),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "isOnOrBetween series bounds, a NULL bound gives NULL",
    tables: {
      p: `
        patient | d1         | d2
        1       | 2020-01-01 | 2020-02-01
        2       | 2020-03-01 | 2020-02-01
        3       | 2020-01-01 |
      `,
    },
    series: () => value("2020-01-15").isOnOrBetween(p.d1, p.d2),
    expected: { 1: true, 2: false, 3: null },
  },
  {
    name: "isBetweenButNotOn with a NULL bound but already outside is false",
    tables: { p: "patient | d1 | d2\n1 | 2020-01-01 |\n2 | 2020-01-01 | 2020-12-31" },
    series: () => value("2019-06-01").isBetweenButNotOn(p.d1, p.d2),
    expected: { 1: false, 2: false },
  },
  {
    name: "events after a patient's date, counted",
    tables: {
      p: "patient | d1\n1 | 2020-01-01\n2 |",
      e: "patient | d1\n1 | 2019-12-31\n1 | 2020-01-01\n1 | 2020-01-02\n1 |\n2 | 2020-01-01",
    },
    series: () => e.where(e.d1.isAfter(p.d1)).countForPatient(),
    expected: { 1: 1, 2: 0 },
  },
  {
    name: "events during a window given by patient dates",
    tables: {
      p: "patient | d1 | d2\n1 | 2020-01-01 | 2020-01-31",
      e: "patient | d1\n1 | 2020-01-01\n1 | 2020-01-31\n1 | 2020-02-01\n1 | 2019-12-31",
    },
    series: () => e.where(e.d1.isDuring([p.d1, p.d2])).countForPatient(),
    expected: { 1: 2 },
  },
  {
    name: "a value() date compared with a series",
    tables: around,
    series: () => value("2020-01-01").isAfter(p.d1),
    expected: { 1: true, 2: false, 3: false, 4: null },
  },
  {
    name: "a value() date isBefore a series",
    tables: around,
    series: () => value("2020-01-01").isBefore(p.d1),
    expected: { 1: false, 2: false, 3: true, 4: null },
  },
];

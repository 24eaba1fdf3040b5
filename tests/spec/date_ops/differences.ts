// d1.sub(d2) is a difference, read as .days, .weeks, .months or .years.
// .weeks is whole days divided by 7, rounded down; .months and .years count
// whole calendar units (a unit counts once its day of the month is reached),
// so a negative difference of a few days is -1 month, as in ehrQL.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

export const cases: SpecCase[] = [
  {
    name: "days, positive and negative",
    tables: { p: "patient | d1 | d2\n1 | 2020-03-01 | 2020-02-01\n2 | 2020-02-01 | 2020-03-01\n3 | 2021-01-01 | 2020-01-01\n4 | 2020-01-01 | 2020-01-01\n5 | | 2020-01-01\n6 | 2020-01-01 |" },
    series: () => p.d1.sub(p.d2).days,
    expected: { 1: 29, 2: -29, 3: 366, 4: 0, 5: null, 6: null },
    type: "int",
  },
  {
    name: "days from an ISO date string",
    tables: { p: "patient | d1\n1 | 2020-01-31\n2 | 2019-12-31\n3 |" },
    series: () => p.d1.sub("2020-01-01").days,
    expected: { 1: 30, 2: -1, 3: null },
  },
  {
    name: "weeks are whole days divided by 7, rounded down",
    tables: {
      p: `
        patient | d1         | d2
        1       | 2020-01-14 | 2020-01-01
        2       | 2020-01-15 | 2020-01-01
        3       | 2020-01-01 | 2020-01-02
        4       | 2020-01-01 | 2020-01-08
        5       | 2020-01-01 | 2020-01-09
        6       | 2020-01-01 | 2020-01-01
        7       |            | 2020-01-01
      `,
    },
    series: () => p.d1.sub(p.d2).weeks,
    expected: { 1: 1, 2: 2, 3: -1, 4: -1, 5: -2, 6: 0, 7: null },
    type: "int",
  },
  {
    name: "months count whole calendar months",
    tables: {
      p: `
        patient | d1         | d2
        1       | 2020-03-31 | 2020-02-29
        2       | 2020-03-28 | 2020-02-29
        3       | 2021-01-15 | 2020-01-15
        4       | 2021-01-14 | 2020-01-15
        5       | 2020-02-29 | 2020-01-31
        6       | 2020-03-01 | 2020-01-31
        7       | 2020-01-15 |
      `,
    },
    series: () => p.d1.sub(p.d2).months,
    expected: { 1: 1, 2: 0, 3: 12, 4: 11, 5: 0, 6: 1, 7: null },
    type: "int",
  },
  {
    name: "negative months",
    tables: {
      p: `
        patient | d1         | d2
        1       | 2020-01-20 | 2020-03-20
        2       | 2020-01-15 | 2020-03-20
        3       | 2020-01-25 | 2020-01-20
        4       | 2020-01-15 | 2020-01-20
      `,
    },
    series: () => p.d1.sub(p.d2).months,
    expected: { 1: -2, 2: -3, 3: 0, 4: -1 },
  },
  {
    name: "years count whole calendar years, also when negative",
    tables: {
      p: `
        patient | d1
        1       | 1990-01-30
        2       | 2000-01-15
        3       | 2020-01-20
        4       | 2022-01-10
        5       |
      `,
    },
    series: () => value("2020-01-15").sub(p.d1).years,
    expected: { 1: 29, 2: 20, 3: -1, 4: -2, 5: null },
    type: "int",
  },
  {
    name: "years: a leap-day birthday counts on Mar 1 in other years",
    tables: {
      p: `
        patient | d1         | d2
        1       | 2021-02-28 | 2020-02-29
        2       | 2021-03-01 | 2020-02-29
        3       | 2024-02-29 | 2020-02-29
        4       | 2024-02-28 | 2020-02-29
      `,
    },
    series: () => p.d1.sub(p.d2).years,
    expected: { 1: 0, 2: 1, 3: 4, 4: 3 },
  },
  {
    name: 'an age: value("2024-03-31").sub(d).years',
    tables: { p: "patient | d1\n1 | 1980-03-31\n2 | 1980-04-01\n3 | 2024-03-31" },
    series: () => value("2024-03-31").sub(p.d1).years,
    expected: { 1: 44, 2: 43, 3: 0 },
  },
  {
    name: "days between event dates, then the largest",
    tables: { e: "patient | d1 | d2\n1 | 2020-01-10 | 2020-01-01\n1 | 2020-02-01 | 2020-01-01\n2 | | 2020-01-01" },
    series: () => e.d1.sub(e.d2).days.maximumForPatient(),
    expected: { 1: 31, 2: null },
  },
  {
    name: "days from an event date to a patient date",
    tables: {
      p: "patient | d1\n1 | 2020-01-01",
      e: "patient | d1\n1 | 2020-01-05\n1 | 2019-12-30",
    },
    series: () => e.d1.sub(p.d1).days.sumForPatient(),
    expected: { 1: 2 },
  },
];

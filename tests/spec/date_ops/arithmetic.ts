// Adding and subtracting durations. Months and years that land on a day the
// target month lacks roll forward to the first of the next month.

import { days, months, value, weeks, years } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const withInts = {
  p: `
    patient | d1         | i1
    1       | 1990-01-02 | 100
    2       | 2000-03-04 | 200
    3       |            | 5
    4       | 2020-01-01 |
    5       | 2020-01-01 | -1
  `,
};

export const cases: SpecCase[] = [
  {
    name: "add days(n) with a number",
    tables: withInts,
    series: () => p.d1.add(days(30)),
    expected: { 1: "1990-02-01", 2: "2000-04-03", 3: null, 4: "2020-01-31", 5: "2020-01-31" },
    type: "date",
  },
  {
    name: "add days with an int series",
    tables: withInts,
    series: () => p.d1.add(days(p.i1)),
    expected: { 1: "1990-04-12", 2: "2000-09-20", 3: null, 4: null, 5: "2019-12-31" },
  },
  {
    name: "sub days with an int series",
    tables: withInts,
    series: () => p.d1.sub(days(p.i1)),
    expected: { 1: "1989-09-24", 2: "1999-08-17", 3: null, 4: null, 5: "2020-01-02" },
  },
  {
    name: "days(100).add(d) is d.add(days(100))",
    tables: withInts,
    series: () => days(100).add(p.d1),
    expected: { 1: "1990-04-12", 2: "2000-06-12", 3: null, 4: "2020-04-10", 5: "2020-04-10" },
  },
  {
    name: "add weeks",
    tables: withInts,
    series: () => p.d1.add(weeks(2)),
    expected: { 1: "1990-01-16", 2: "2000-03-18", 3: null, 4: "2020-01-15", 5: "2020-01-15" },
  },
  {
    name: "sub weeks with an int series",
    tables: withInts,
    series: () => p.d1.sub(weeks(p.i1)),
    expected: { 1: "1988-02-02", 2: "1996-05-04", 3: null, 4: null, 5: "2020-01-08" },
  },
  {
    name: "add months",
    tables: withInts,
    series: () => p.d1.add(months(3)),
    expected: { 1: "1990-04-02", 2: "2000-06-04", 3: null, 4: "2020-04-01", 5: "2020-04-01" },
  },
  {
    name: "add months across a year end",
    tables: { p: "patient | d1\n1 | 2020-11-15\n2 | 2020-12-31" },
    series: () => p.d1.add(months(2)),
    expected: { 1: "2021-01-15", 2: "2021-03-01" },
  },
  {
    name: "Jan 31 + 1 month = Mar 1",
    tables: { p: "patient | d1\n1 | 2021-01-31\n2 | 2020-01-31\n3 | 2021-01-28" },
    series: () => p.d1.add(months(1)),
    expected: { 1: "2021-03-01", 2: "2020-03-01", 3: "2021-02-28" },
  },
  {
    name: "Jan 30 + 1 month in a leap year = Mar 1",
    tables: { p: "patient | d1\n1 | 2020-01-30\n2 | 2020-01-29" },
    series: () => p.d1.add(months(1)),
    expected: { 1: "2020-03-01", 2: "2020-02-29" },
  },
  {
    name: "Mar 31 + 1 month = May 1",
    tables: { p: "patient | d1\n1 | 2021-03-31" },
    series: () => p.d1.add(months(1)),
    expected: { 1: "2021-05-01" },
  },
  {
    name: "sub months rolls forward too: Mar 31 - 1 month = Mar 1",
    tables: { p: "patient | d1\n1 | 2021-03-31\n2 | 2021-03-28" },
    series: () => p.d1.sub(months(1)),
    expected: { 1: "2021-03-01", 2: "2021-02-28" },
  },
  {
    name: "2020-02-29 - 12 months = 2019-03-01",
    tables: { p: "patient | d1\n1 | 2020-02-29" },
    series: () => p.d1.sub(months(12)),
    expected: { 1: "2019-03-01" },
  },
  {
    name: "add months with an int series, negative and NULL included",
    tables: { p: "patient | d1 | i1\n1 | 2020-05-31 | 1\n2 | 2020-05-31 | -1\n3 | 2020-05-31 |\n4 | 2020-05-31 | 13" },
    series: () => p.d1.add(months(p.i1)),
    expected: { 1: "2020-07-01", 2: "2020-05-01", 3: null, 4: "2021-07-01" },
  },
  {
    name: "Feb 29 + 1 year = Mar 1",
    tables: { p: "patient | d1\n1 | 2020-02-29\n2 | 2020-02-28" },
    series: () => p.d1.add(years(1)),
    expected: { 1: "2021-03-01", 2: "2021-02-28" },
  },
  {
    name: "Feb 29 + 4 years = Feb 29",
    tables: { p: "patient | d1\n1 | 2020-02-29" },
    series: () => p.d1.add(years(4)),
    expected: { 1: "2024-02-29" },
  },
  {
    name: "sub years with an int series",
    tables: { p: "patient | d1 | i1\n1 | 2020-02-29 | 1\n2 | 2020-06-15 | 20\n3 | 2020-06-15 |" },
    series: () => p.d1.sub(years(p.i1)),
    expected: { 1: "2019-03-01", 2: "2000-06-15", 3: null },
  },
  {
    name: 'value("2024-03-31").sub(years(1))',
    tables: { p: "patient | i1\n1 | 1" },
    series: () => value("2024-03-31").sub(years(1)),
    expected: { 1: "2023-03-31" },
    type: "date",
  },
  {
    name: 'value("2024-02-29").sub(years(1)) rolls forward',
    tables: { p: "patient | i1\n1 | 1" },
    series: () => value("2024-02-29").sub(years(1)),
    expected: { 1: "2023-03-01" },
  },
  {
    name: "a value() date plus days from a series",
    tables: { p: "patient | i1\n1 | 31\n2 | 366\n3 |" },
    series: () => value("2000-01-01").add(days(p.i1)),
    expected: { 1: "2000-02-01", 2: "2001-01-01", 3: null },
  },
  {
    name: "add days across a leap day",
    tables: { p: "patient | d1\n1 | 2020-02-28\n2 | 2021-02-28" },
    series: () => p.d1.add(days(1)),
    expected: { 1: "2020-02-29", 2: "2021-03-01" },
  },
  {
    name: "add days on an event series, then the latest",
    tables: { e: "patient | d1\n1 | 2020-01-01\n1 | 2020-06-01\n2 |" },
    series: () => e.d1.add(days(10)).maximumForPatient(),
    expected: { 1: "2020-06-11", 2: null },
  },
  {
    name: "add days from an event int series to an event date series",
    tables: { e: "patient | d1 | i1\n1 | 2020-01-01 | 1\n1 | 2020-01-10 | -20\n2 | 2020-01-01 |" },
    series: () => e.d1.add(days(e.i1)).minimumForPatient(),
    expected: { 1: "2019-12-21", 2: null },
  },
  {
    name: "add a negative number of days",
    tables: { p: "patient | d1\n1 | 2020-03-01" },
    series: () => p.d1.add(days(-1)),
    expected: { 1: "2020-02-29" },
  },
  {
    name: "sub a negative number of years adds them",
    tables: { p: "patient | d1\n1 | 2020-02-29" },
    series: () => p.d1.sub(years(-1)),
    expected: { 1: "2021-03-01" },
  },
  {
    name: "add months to Dec 31 gives Dec 31 a year on",
    tables: { p: "patient | d1\n1 | 2020-12-31" },
    series: () => p.d1.add(months(12)),
    expected: { 1: "2021-12-31" },
  },
];

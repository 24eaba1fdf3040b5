// value(x): a constant series, the same for every patient.

import { days, value } from "../../../src/language/index.js";
import { type SpecCase, p } from "../harness.js";

const two = { p: "patient | i1\n1 | 1\n2 |" };

export const cases: SpecCase[] = [
  { name: "an ISO date string is a date", tables: two, series: () => value("2020-01-01"), expected: { 1: "2020-01-01", 2: "2020-01-01" }, type: "date" },
  { name: "another string is a str", tables: two, series: () => value("2020-1-1"), expected: { 1: "2020-1-1", 2: "2020-1-1" }, type: "str" },
  { name: "a boolean is a bool", tables: two, series: () => value(true), expected: { 1: true, 2: true }, type: "bool" },
  { name: "a negative integral number is an int", tables: two, series: () => value(-4), expected: { 1: -4, 2: -4 }, type: "int" },
  {
    name: "the difference between two constant dates",
    tables: two,
    series: () => value("2020-01-01").sub("2019-01-01").days,
    expected: { 1: 365, 2: 365 },
  },
  {
    name: "a duration of a series on the left: days(i1).add(date)",
    tables: two,
    series: () => days(p.i1).add("2020-01-31"),
    expected: { 1: "2020-02-01", 2: null },
  },
  {
    name: "a constant combined with a column keeps NULL",
    tables: two,
    series: () => value(10).sub(p.i1),
    expected: { 1: 9, 2: null },
  },
];

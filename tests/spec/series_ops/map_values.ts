// mapValues: an object (keys match by the value's string form) or a Map (keys
// match exactly), with an optional default for every value not listed
// (NULL included, as in ehrQL, where the mapping is a case expression).

import { type SpecCase, e, p } from "../harness.js";

const ints = { p: "patient | i1\n1 | 101\n2 | 201\n3 | 301\n4 |" };

export const cases: SpecCase[] = [
  {
    name: "an object of int keys to strings, no default",
    tables: ints,
    series: () => p.i1.mapValues({ 101: "a", 201: "b" }),
    expected: { 1: "a", 2: "b", 3: null, 4: null },
  },
  {
    name: "with a default: unlisted values and NULL take it",
    tables: ints,
    series: () => p.i1.mapValues({ 101: "a", 201: "b", 301: "a" }, { default: "c" }),
    expected: { 1: "a", 2: "b", 3: "a", 4: "c" },
  },
  {
    name: "a Map of int keys",
    tables: ints,
    series: () => p.i1.mapValues(new Map([[101, "x"], [301, "z"]])),
    expected: { 1: "x", 2: null, 3: "z", 4: null },
  },
  {
    name: "a Map with a default",
    tables: ints,
    series: () => p.i1.mapValues(new Map([[201, "y"]]), { default: "other" }),
    expected: { 1: "other", 2: "y", 3: "other", 4: "other" },
  },
  {
    name: "null as a mapped value",
    tables: ints,
    series: () => p.i1.mapValues({ 101: null, 201: "b" }, { default: "c" }),
    expected: { 1: null, 2: "b", 3: "c", 4: "c" },
  },
  {
    name: "str keys to ints",
    tables: { p: "patient | s1\n1 | low\n2 | high\n3 | LOW\n4 |" },
    series: () => p.s1.mapValues({ low: 1, high: 3 }),
    expected: { 1: 1, 2: 3, 3: null, 4: null },
    type: "int",
  },
  {
    name: "str keys to int and float values give a float",
    tables: { p: "patient | s1\n1 | a\n2 | b" },
    series: () => p.s1.mapValues({ a: 1, b: 2.5 }),
    expected: { 1: 1, 2: 2.5 },
    type: "float",
  },
  {
    name: "bool keys by their string form",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => p.b1.mapValues({ true: "yes", false: "no" }),
    expected: { 1: "yes", 2: "no", 3: null },
  },
  {
    name: "date keys as ISO strings",
    tables: { p: "patient | d1\n1 | 2020-01-01\n2 | 2020-12-25\n3 | 2021-01-01" },
    series: () => p.d1.mapValues({ "2020-01-01": "new year", "2020-12-25": "christmas" }),
    expected: { 1: "new year", 2: "christmas", 3: null },
  },
  {
    name: "code keys",
    tables: { p: "patient | c1\n1 | 123456\n2 | 234567" },
    series: () => p.c1.mapValues({ "123456": "asthma" }, { default: "other" }),
    expected: { 1: "asthma", 2: "other" },
  },
  {
    name: "ints to bools",
    tables: ints,
    series: () => p.i1.mapValues({ 101: true, 201: false }),
    expected: { 1: true, 2: false, 3: null, 4: null },
    type: "bool",
  },
  {
    name: "on an event series, then counted",
    tables: { e: "patient | i1\n1 | 1\n1 | 2\n1 | 3\n2 | 3" },
    series: () => e.where(e.i1.mapValues({ 1: "odd", 3: "odd" }, { default: "even" }).eq("odd")).countForPatient(),
    expected: { 1: 2, 2: 1 },
  },
];

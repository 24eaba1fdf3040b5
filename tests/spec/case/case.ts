// when(...).then(...)[.when(...).then(...)].otherwise(...): the first branch
// whose condition is true gives the value; a NULL condition is not taken.

import { when } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const ages = { p: "patient | i1\n1 | 5\n2 | 15\n3 | 25\n4 |" };

export const cases: SpecCase[] = [
  {
    name: "one branch with otherwise",
    tables: ages,
    series: () => when(p.i1.lt(10)).then("child").otherwise("adult"),
    expected: { 1: "child", 2: "adult", 3: "adult", 4: "adult" },
    type: "str",
  },
  {
    name: "chained when: the first true branch wins",
    tables: ages,
    series: () => when(p.i1.lt(10)).then("a").when(p.i1.lt(20)).then("b").otherwise("c"),
    expected: { 1: "a", 2: "b", 3: "c", 4: "c" },
  },
  {
    name: "overlapping branches: the earlier wins",
    tables: ages,
    series: () => when(p.i1.lt(20)).then(1).when(p.i1.lt(10)).then(2).otherwise(3),
    expected: { 1: 1, 2: 1, 3: 3, 4: 3 },
    type: "int",
  },
  {
    name: "otherwise(null) when there is no default",
    tables: ages,
    series: () => when(p.i1.lt(10)).then("a").when(p.i1.lt(20)).then("b").otherwise(null),
    expected: { 1: "a", 2: "b", 3: null, 4: null },
  },
  {
    name: "a NULL condition is not taken, even with otherwise",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => when(p.b1).then("yes").otherwise("no"),
    expected: { 1: "yes", 2: "no", 3: "no" },
  },
  {
    name: "a NULL condition falls through to the next branch",
    tables: { p: "patient | b1 | b2\n1 | | T\n2 | | F" },
    series: () => when(p.b1).then(1).when(p.b2).then(2).otherwise(3),
    expected: { 1: 2, 2: 3 },
  },
  {
    name: "null as a then value",
    tables: ages,
    series: () => when(p.i1.lt(10)).then(null).otherwise("old enough"),
    expected: { 1: null, 2: "old enough", 3: "old enough", 4: "old enough" },
  },
  {
    name: "null as a then value in a later branch",
    tables: ages,
    series: () => when(p.i1.lt(10)).then(1).when(p.i1.lt(20)).then(null).otherwise(3),
    expected: { 1: 1, 2: null, 3: 3, 4: 3 },
    type: "int",
  },
  {
    name: "series as branch values",
    tables: { p: "patient | b1 | i1 | i2\n1 | T | 1 | 2\n2 | F | 1 | 2\n3 | T | | 2" },
    series: () => when(p.b1).then(p.i1).otherwise(p.i2),
    expected: { 1: 1, 2: 2, 3: null },
  },
  {
    name: "an int literal otherwise with a float branch is a float",
    tables: { p: "patient | b1 | f1\n1 | T | 1.5\n2 | F | 1.5" },
    series: () => when(p.b1).then(p.f1).otherwise(0),
    expected: { 1: 1.5, 2: 0 },
    type: "float",
  },
  {
    name: "date branch values with ISO strings",
    tables: { p: "patient | b1 | d1\n1 | T | 2020-05-05\n2 | F | 2020-05-05" },
    series: () => when(p.b1).then(p.d1).otherwise("2000-01-01"),
    expected: { 1: "2020-05-05", 2: "2000-01-01" },
    type: "date",
  },
  {
    name: "bool branch values",
    tables: ages,
    series: () => when(p.i1.gt(10)).then(true).otherwise(false),
    expected: { 1: false, 2: true, 3: true, 4: false },
    type: "bool",
  },
  {
    name: "a bool literal condition",
    tables: ages,
    series: () => when(false).then(1).when(true).then(2).otherwise(3),
    expected: { 1: 2, 2: 2, 3: 2, 4: 2 },
  },
  {
    name: "a case on event series, then summed",
    tables: { e: "patient | i1\n1 | -2\n1 | 3\n1 |\n2 | -1" },
    series: () => when(e.i1.gt(0)).then(e.i1).otherwise(0).sumForPatient(),
    expected: { 1: 3, 2: 0 },
  },
  {
    name: "a case mixing a patient condition with event values",
    tables: {
      p: "patient | b1\n1 | T\n2 | F",
      e: "patient | i1 | i2\n1 | 1 | 10\n1 | 2 | 20\n2 | 3 | 30",
    },
    series: () => when(p.b1).then(e.i1).otherwise(e.i2).sumForPatient(),
    expected: { 1: 3, 2: 30 },
  },
  {
    name: "a case whose conditions are aggregates",
    tables: { e: "patient | i1\n1 | 1\n1 | 2\n2 | 1\n3 |" },
    series: () => when(e.countForPatient().ge(2)).then("many").when(e.i1.existsForPatient()).then("one").otherwise("none"),
    expected: { 1: "many", 2: "one", 3: "none" },
  },
  {
    name: "a case inside a case",
    tables: ages,
    series: () => when(p.i1.lt(20)).then(when(p.i1.lt(10)).then("a").otherwise("b")).otherwise("c"),
    expected: { 1: "a", 2: "b", 3: "c", 4: "c" },
  },
  {
    name: "an aggregate as a branch value with a literal otherwise",
    tables: { p: "patient | b1\n1 | T\n2 | F", e: "patient | i1\n1 | 4\n1 | 6\n2 | 1" },
    series: () => when(p.b1).then(e.i1.sumForPatient()).otherwise(-1),
    expected: { 1: 10, 2: -1 },
  },
];

// Kleene logic: a known answer wins over NULL.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

// Every pair of true, false and NULL.
const pairs = {
  p: `
    patient | b1 | b2
    1       | T  | T
    2       | T  | F
    3       | T  |
    4       | F  | T
    5       | F  | F
    6       | F  |
    7       |    | T
    8       |    | F
    9       |    |
  `,
};

export const cases: SpecCase[] = [
  {
    name: "and: the full truth table",
    tables: pairs,
    series: () => p.b1.and(p.b2),
    expected: { 1: true, 2: false, 3: null, 4: false, 5: false, 6: false, 7: null, 8: false, 9: null },
  },
  {
    name: "or: the full truth table",
    tables: pairs,
    series: () => p.b1.or(p.b2),
    expected: { 1: true, 2: true, 3: true, 4: true, 5: false, 6: null, 7: true, 8: null, 9: null },
  },
  {
    name: "not: true, false, NULL",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => p.b1.not(),
    expected: { 1: false, 2: true, 3: null },
  },
  {
    name: "and with the literal true",
    tables: pairs,
    series: () => p.b1.and(true),
    expected: { 1: true, 2: true, 3: true, 4: false, 5: false, 6: false, 7: null, 8: null, 9: null },
  },
  {
    name: "and with the literal false is always false",
    tables: pairs,
    series: () => p.b1.and(false),
    expected: { 1: false, 2: false, 3: false, 4: false, 5: false, 6: false, 7: false, 8: false, 9: false },
  },
  {
    name: "or with the literal true is always true",
    tables: pairs,
    series: () => p.b1.or(true),
    expected: { 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true },
  },
  {
    name: "or with the literal false",
    tables: pairs,
    series: () => p.b1.or(false),
    expected: { 1: true, 2: true, 3: true, 4: false, 5: false, 6: false, 7: null, 8: null, 9: null },
  },
  {
    name: "value(false) on the left",
    tables: pairs,
    series: () => value(false).or(p.b2),
    expected: { 1: true, 2: false, 3: null, 4: true, 5: false, 6: null, 7: true, 8: false, 9: null },
  },
  {
    name: "not of and: De Morgan holds under NULL",
    tables: pairs,
    series: () => p.b1.and(p.b2).not().eq(p.b1.not().or(p.b2.not())),
    expected: { 1: true, 2: true, 3: null, 4: true, 5: true, 6: true, 7: null, 8: true, 9: null },
  },
  {
    name: "a comparison with NULL inside or: true wins",
    tables: { p: "patient | i1 | b1\n1 | | T\n2 | | F\n3 | 5 | F" },
    series: () => p.i1.gt(3).or(p.b1),
    expected: { 1: true, 2: null, 3: true },
  },
  {
    name: "bool asInt: true is 1, false is 0",
    tables: { p: "patient | b1\n1 | T\n2 | F\n3 |" },
    series: () => p.b1.asInt(),
    expected: { 1: 1, 2: 0, 3: null },
    type: "int",
  },
  {
    name: "summing bool asInt counts the true rows",
    tables: { e: "patient | b1\n1 | T\n1 | T\n1 | F\n1 |\n2 | F" },
    series: () => e.b1.asInt().sumForPatient(),
    expected: { 1: 2, 2: 0 },
  },
  {
    name: "and on event series row by row",
    tables: { e: "patient | b1 | b2\n1 | T | T\n1 | T | F\n1 | T |\n2 | F |" },
    series: () => e.where(e.b1.and(e.b2)).countForPatient(),
    expected: { 1: 1, 2: 0 },
  },
  {
    name: "or of an event series with a patient series",
    tables: {
      p: "patient | b1\n1 | T\n2 | F",
      e: "patient | b1\n1 | F\n1 |\n2 | F\n2 | T",
    },
    series: () => e.where(e.b1.or(p.b1)).countForPatient(),
    expected: { 1: 2, 2: 1 },
  },
];

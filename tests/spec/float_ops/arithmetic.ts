// Arithmetic on float series; a number literal adopts the float type.

import { value } from "../../../src/language/index.js";
import { type SpecCase, e, p } from "../harness.js";

const pairs = {
  p: `
    patient | f1   | f2
    1       | 1.5  | 0.25
    2       | -2.5 | 2.0
    3       |      | 1.0
    4       | 3.0  |
  `,
};

export const cases: SpecCase[] = [
  { name: "add two series", tables: pairs, series: () => p.f1.add(p.f2), expected: { 1: 1.75, 2: -0.5, 3: null, 4: null }, type: "float" },
  { name: "sub two series", tables: pairs, series: () => p.f1.sub(p.f2), expected: { 1: 1.25, 2: -4.5, 3: null, 4: null }, type: "float" },
  { name: "mul two series", tables: pairs, series: () => p.f1.mul(p.f2), expected: { 1: 0.375, 2: -5, 3: null, 4: null }, type: "float" },
  { name: "an integral literal is a float here", tables: pairs, series: () => p.f1.add(1), expected: { 1: 2.5, 2: -1.5, 3: null, 4: 4 }, type: "float" },
  { name: "a fractional literal", tables: pairs, series: () => p.f1.mul(0.5), expected: { 1: 0.75, 2: -1.25, 3: null, 4: 1.5 }, type: "float" },
  { name: "neg", tables: pairs, series: () => p.f1.neg(), expected: { 1: -1.5, 2: 2.5, 3: null, 4: -3 }, type: "float" },
  { name: "abs", tables: pairs, series: () => p.f1.abs(), expected: { 1: 1.5, 2: 2.5, 3: null, 4: 3 }, type: "float" },
  {
    name: "comparison with an integral literal",
    tables: pairs,
    series: () => p.f1.ge(3),
    expected: { 1: false, 2: false, 3: null, 4: true },
  },
  {
    name: "lt with a fractional literal",
    tables: pairs,
    series: () => p.f1.lt(1.6),
    expected: { 1: true, 2: true, 3: null, 4: false },
  },
  {
    name: "value(1) on the left adopts the float type",
    tables: pairs,
    series: () => value(1).add(p.f1),
    expected: { 1: 2.5, 2: -1.5, 3: null, 4: 4 },
    type: "float",
  },
  {
    name: "value(0.5) on the left is a float",
    tables: pairs,
    series: () => value(0.5).mul(p.f2),
    expected: { 1: 0.125, 2: 1, 3: 0.5, 4: null },
    type: "float",
  },
  {
    name: "a fractional value() alone is a float",
    tables: pairs,
    series: () => value(2.5),
    expected: { 1: 2.5, 2: 2.5, 3: 2.5, 4: 2.5 },
    type: "float",
  },
  {
    name: "an integral value() alone is an int",
    tables: pairs,
    series: () => value(3),
    expected: { 1: 3, 2: 3, 3: 3, 4: 3 },
    type: "int",
  },
  {
    name: "sum of an event float series plus a literal",
    tables: { e: "patient | f1\n1 | 0.5\n1 | 1.25\n2 |" },
    series: () => e.f1.add(1).sumForPatient(),
    expected: { 1: 3.75, 2: null },
    type: "float",
  },
  {
    name: "float sums are floats: 0.1 + 0.2 is about 0.3",
    tables: { p: "patient | f1 | f2\n1 | 0.1 | 0.2" },
    series: () => p.f1.add(p.f2),
    expected: { 1: 0.3 },
  },
  {
    name: "a float written as an integer in a table",
    tables: { p: "patient | f1\n1 | 58" },
    series: () => p.f1.div(4),
    expected: { 1: 14.5 },
  },
];
